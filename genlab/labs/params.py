"""Declarative lab parameters: a frozen dataclass whose fields carry a ``Spec``.

    @dataclass(frozen=True)
    class Params:
        k: Annotated[int, Range(1, 20, "number of mixture components")] = 8
        eps: Annotated[float, Range(1e-6, 1.0, "covariance regulariser", log=True)] = 1e-3
        init: Annotated[str, Choice(("random", "k-means++"), "initial means")] = "k-means++"
        seed: Annotated[int, Range(0, 2**31 - 1, "random seed")] = 0

The UI builds its panel from these specs, the CLI parses ``--set`` with them and both refuse a
bad value with the same message, naming the valid range or choices.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

P = TypeVar("P")


class ParamError(ValueError):
    """A parameter value or name that is not valid; the message says what is."""


@dataclass(frozen=True)
class Spec:
    """How a field may vary. ``live`` fields change a running run without restarting it.

    ``when`` shows the field only while another field has one of the given values, e.g.
    ``when=("mode", ("lcg",))``.  ``log`` puts a numeric slider on a logarithmic scale.
    """

    help: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[str, ...] | None = None
    live: bool = False
    when: tuple[str, tuple[str, ...]] | None = None
    label: str | None = None


def Range(lo: float, hi: float, help: str, *, step: float | None = None, log: bool = False,
          live: bool = False, when: tuple[str, tuple[str, ...]] | None = None,
          label: str | None = None) -> Spec:
    if not lo < hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if log and lo <= 0:
        raise ValueError("a logarithmic range must be positive")
    return Spec(help, lo=lo, hi=hi, step=step, log=log, live=live, when=when, label=label)


def Choice(choices: tuple[str, ...], help: str, *, live: bool = False,
           when: tuple[str, tuple[str, ...]] | None = None, label: str | None = None) -> Spec:
    return Spec(help, choices=tuple(choices), live=live, when=when, label=label)


def Flag(help: str, *, live: bool = False, when: tuple[str, tuple[str, ...]] | None = None,
         label: str | None = None) -> Spec:
    return Spec(help, live=live, when=when, label=label)


@dataclass(frozen=True)
class ParamField:
    name: str
    type: type  # int, float, str or bool
    default: Any
    spec: Spec

    @property
    def label(self) -> str:
        return self.spec.label or self.name.replace("_", " ")

    def describe_range(self) -> str:
        s = self.spec
        if s.choices is not None:
            return "one of: " + ", ".join(s.choices)
        if self.type is bool:
            return "true or false"
        kind = "an integer" if self.type is int else "a number"
        return f"{kind} from {_fmt(s.lo)} to {_fmt(s.hi)}"

    def tooltip(self) -> str:
        live = " Changes apply live." if self.spec.live else ""
        return f"{self.spec.help}\n{self.label}: {self.describe_range()}.{live}"

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (a typed value or a string) to this field's type and check it."""
        s = self.spec
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                        raise ValueError
                    value = low in ("true", "1", "yes", "on")
                v: Any = bool(value)
            elif self.type is int:
                if isinstance(value, str):
                    value = value.strip().replace("_", "")
                    f = float(value)
                elif isinstance(value, bool):
                    raise ValueError
                else:
                    f = float(value)
                if not math.isfinite(f) or f != int(f):
                    raise ValueError
                v = int(f)
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError
                v = float(value.strip() if isinstance(value, str) else value)
                if not math.isfinite(v):
                    raise ValueError
                v += 0.0  # "-0" is 0: a negative zero failed later as a "scale < 0"
            else:
                v = str(value).strip()
        except (TypeError, ValueError):
            raise ParamError(
                f"{self.name} = {value!r} is not valid: {self.label} takes "
                f"{self.describe_range()}") from None
        if s.choices is not None and v not in s.choices:
            raise ParamError(f"{self.name} = {v!r} is not valid: {self.describe_range()}")
        if s.lo is not None and s.hi is not None and not (s.lo <= v <= s.hi):
            raise ParamError(
                f"{self.name} = {_fmt(v)} is out of range: {self.label} takes "
                f"{self.describe_range()}")
        return v


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}"


def param_fields(cls: type) -> list[ParamField]:
    """The fields of a Params dataclass with their specs, in declaration order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if typing.get_origin(hint) is not typing.Annotated:
            raise TypeError(f"{cls.__qualname__}.{f.name} has no Spec")
        base, *meta = typing.get_args(hint)
        spec = next((m for m in meta if isinstance(m, Spec)), None)
        if spec is None:
            raise TypeError(f"{cls.__qualname__}.{f.name} has no Spec")
        out.append(ParamField(f.name, base, f.default, spec))
    return out


def field_named(cls: type, name: str) -> ParamField:
    for f in param_fields(cls):
        if f.name == name:
            return f
    names = ", ".join(f.name for f in param_fields(cls))
    raise ParamError(f"unknown parameter '{name}': valid parameters are {names}")


def replace(params: P, **changes: Any) -> P:
    """A copy of ``params`` with ``changes`` validated and applied (ParamError if invalid)."""
    cls = type(params)
    typed = {name: field_named(cls, name).coerce(v) for name, v in changes.items()}
    return dataclasses.replace(params, **typed)  # type: ignore[type-var]


def from_dict(cls: type[P], values: Mapping[str, Any]) -> P:
    """Defaults of ``cls`` updated with ``values`` (validated)."""
    return replace(cls(), **dict(values))


def to_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)


def parse_assignment(cls: type, text: str) -> tuple[str, Any]:
    """Parse ``field=value`` (the CLI's ``--set``) into a validated (name, value)."""
    if "=" not in text:
        raise ParamError(f"--set expects field=value, got '{text}'")
    name, value = text.split("=", 1)
    f = field_named(cls, name.strip())
    return f.name, f.coerce(value)


def clamp(cls: type, name: str, value: float) -> float:
    """``value`` moved into the numeric field's range and rounded to its type (for drags).

    A dragged handle may leave a field's range; the drag then pins the value at the bound
    instead of being refused, as a slider does.  ParamError for a field that is not numeric.
    """
    f = field_named(cls, name)
    s = f.spec
    if s.lo is None or s.hi is None or f.type not in (int, float):
        raise ParamError(f"parameter '{name}' is not numeric: a handle cannot set it")
    v = min(max(float(value), s.lo), s.hi)
    if f.type is int:
        return int(round(v))
    if s.step:
        v = min(max(round(round(v / s.step) * s.step, 12), s.lo), s.hi)
    return v


def live_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in param_fields(cls) if f.spec.live)


def take_live(params: P, new: Any, names: Iterable[str]) -> P:
    """``params`` with the fields ``names`` taken from ``new`` (the Params a live change sent
    to a running generator, or None: no change)."""
    if new is None:
        return params
    return replace(params, **{k: getattr(new, k) for k in names})


def is_visible(f: ParamField, params: Any) -> bool:
    if f.spec.when is None:
        return True
    other, values = f.spec.when
    # Conditions chain: a field shown for one dist of the inverse-CDF mode hides with it.
    return getattr(params, other) in values and is_visible(field_named(type(params), other),
                                                             params)


def data_field(params: Any) -> str | None:
    """The name of the field that picks the data the lab shows now: the first visible choice
    offering "drawn" (e.g. ``dataset``; a lab with several modes may have one per mode), or
    None."""
    for f in param_fields(type(params)):
        if f.spec.choices is not None and "drawn" in f.spec.choices and is_visible(f, params):
            return f.name
    return None


def validate(params: Any) -> None:
    """Check every field of an existing Params object (ParamError if one is out of range)."""
    for f in param_fields(type(params)):
        f.coerce(getattr(params, f.name))
