from dataclasses import dataclass
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genlab.labs.params import (
    Choice,
    Flag,
    ParamError,
    Range,
    field_named,
    from_dict,
    is_visible,
    live_fields,
    param_fields,
    parse_assignment,
    replace,
)


@dataclass(frozen=True)
class P:
    mode: Annotated[str, Choice(("a", "b"), "the mode")] = "a"
    k: Annotated[int, Range(1, 20, "components")] = 3
    lr: Annotated[float, Range(1e-4, 1.0, "learning rate", log=True, live=True)] = 0.01
    show: Annotated[bool, Flag("show it", when=("mode", ("b",)))] = False
    seed: Annotated[int, Range(0, 2**31 - 1, "seed")] = 0


def test_fields_and_live():
    assert [f.name for f in param_fields(P)] == ["mode", "k", "lr", "show", "seed"]
    assert live_fields(P) == {"lr"}
    assert "learning rate" in field_named(P, "lr").tooltip()
    assert "from 0.0001 to 1" in field_named(P, "lr").tooltip()


def test_replace_validates_and_coerces():
    p = replace(P(), k="7", lr="0.5", mode="b", show="true")
    assert (p.k, p.lr, p.mode, p.show) == (7, 0.5, "b", True)
    with pytest.raises(ParamError, match="out of range.*from 1 to 20"):
        replace(P(), k=21)
    with pytest.raises(ParamError, match="one of: a, b"):
        replace(P(), mode="c")
    with pytest.raises(ParamError, match="integer"):
        replace(P(), k="2.5")
    with pytest.raises(ParamError, match="valid parameters are mode, k, lr, show, seed"):
        replace(P(), K=3)
    with pytest.raises(ParamError):
        replace(P(), lr="nan")


def test_parse_assignment_and_dict():
    assert parse_assignment(P, "k=4") == ("k", 4)
    with pytest.raises(ParamError, match="field=value"):
        parse_assignment(P, "k4")
    assert from_dict(P, {"k": 2}).k == 2


def test_visibility():
    f = field_named(P, "show")
    assert not is_visible(f, P())
    assert is_visible(f, P(mode="b"))


@given(st.integers(min_value=-100, max_value=100))
def test_int_range_property(k):
    if 1 <= k <= 20:
        assert replace(P(), k=k).k == k
    else:
        with pytest.raises(ParamError):
            replace(P(), k=k)


def test_data_field_is_the_visible_choice_offering_drawn():
    from dataclasses import dataclass
    from typing import Annotated

    from genlab.labs.params import Choice, data_field

    @dataclass(frozen=True)
    class P:
        mode: Annotated[str, Choice(("a", "b"), "mode")] = "a"
        fit_data: Annotated[str, Choice(("moons", "drawn"), "a's data",
                                        when=("mode", ("a",)))] = "moons"
        other: Annotated[str, Choice(("moons", "drawn"), "b's data",
                                     when=("mode", ("b",)))] = "moons"

    assert data_field(P()) == "fit_data"
    assert data_field(P(mode="b")) == "other"
