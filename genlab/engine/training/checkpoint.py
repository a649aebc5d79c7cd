"""Checkpoints as ONE safetensors file: named tensors plus a JSON document in its metadata.

No pickle anywhere: safetensors stores raw tensor bytes behind a JSON header, and everything
that is not a tensor (config, step, loss history, numpy RNG state, optimiser hyperparameters)
is JSON under the metadata key ``"genlab"``, tagged with a format name and version, with a
SHA-256 of the tensors so a file damaged after its header is caught too:

    save_checkpoint(path, {"net.w": w, ...}, {"kind": "images", "config": {...}, "step": 10})
    tensors, meta = load_checkpoint(path, kind="images")   # ValueError (one line) if bad

Nested ``state_dict``s (an optimiser's, with int keys, tuples and tensors inside) go through
``flatten_state`` / ``unflatten_state``: tensors become entries ``prefix.<path>`` and the rest
a JSON skeleton that points at them.  Any trainer (image, 2D, future) can reuse these.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

__all__ = [
    "FORMAT",
    "VERSION",
    "flatten_state",
    "load_checkpoint",
    "read_meta",
    "save_checkpoint",
    "unflatten_state",
]

#: Name and version written in every checkpoint's metadata; a reader refuses newer versions.
FORMAT = "genlab-checkpoint"
VERSION = 1
_KEY = "genlab"


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return (text[:160] + "…") if len(text) > 160 else text or type(e).__name__


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor],
                    meta: dict[str, Any]) -> Path:
    """Write ``tensors`` (name -> tensor, any device; stored contiguous on the CPU) and the
    JSON-able ``meta`` to ``path`` atomically (a temporary file renamed over it, so a crash
    never leaves half a checkpoint).  Returns the path."""
    path = Path(path)
    # safetensors refuses tensors that share memory; clones on the CPU are independent
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    doc = {**meta, "format": FORMAT, "version": VERSION, "sha256": _digest(flat)}
    try:
        text = json.dumps(doc, allow_nan=False)  # strict JSON: any reader can parse it
    except (TypeError, ValueError) as e:
        raise ValueError(f"checkpoint metadata is not JSON: {_one_line(e)}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        # bytes written by Python, so the file gets the usual umask mode (save_file: 0600)
        tmp.write_bytes(save(flat, metadata={_KEY: text}))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and raw bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().to("cpu").contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_meta(path: Path, header: dict[str, str] | None, kind: str | None) -> dict[str, Any]:
    if not header or _KEY not in header:
        raise ValueError(f"{path.name} is not a genlab checkpoint (no genlab metadata)")
    try:
        meta = json.loads(header[_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"{path.name}: genlab metadata is not valid JSON ({e.msg})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a genlab checkpoint (format tag missing)")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{path.name} has checkpoint version {version!r}; this genlab reads "
                         f"up to {VERSION}")
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(f"{path.name} holds a {meta.get('kind')!r} model, not {kind!r}")
    return meta


def _open(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no checkpoint file at {p}")
    return p


def read_meta(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Only the JSON metadata (cheap: reads the header, not the tensors)."""
    p = _open(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            header = f.metadata()
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"{p.name} is not a readable safetensors file: {_one_line(e)}") \
            from None
    return _check_meta(p, header, kind)


def load_checkpoint(path: str | Path, kind: str | None = None,
                    device: str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) from a file written by :func:`save_checkpoint` (meta has its keys
    plus "format", "version" and "sha256").

    ``kind`` (e.g. ``"images"``) must match ``meta["kind"]`` when given.  Anything wrong — not
    a file, not safetensors, truncated, no genlab metadata, bad JSON, a newer version, another
    kind, tensors that fail the checksum — raises ``ValueError`` with a one-line message."""
    p = _open(path)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = _check_meta(p, f.metadata(), kind)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except ValueError:
        raise
    except (SafetensorError, OSError, RuntimeError, KeyError) as e:
        raise ValueError(f"{p.name} is not a readable safetensors file: {_one_line(e)}") \
            from None
    if meta.get("sha256") != _digest(tensors):
        raise ValueError(f"{p.name} is corrupt: its tensors do not match their checksum")
    if device != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors, meta


# ------------------------------------------------------------------ nested state dicts


def flatten_state(state: Any, prefix: str) -> tuple[Any, dict[str, torch.Tensor]]:
    """(skeleton, tensors): ``state`` (dicts, lists, tuples, numbers, strings, None, tensors)
    as a JSON-able skeleton in which each tensor is ``{"__tensor__": name}`` and the tensors
    are ``{name: tensor}`` with names ``prefix.a.b.0``.  Dicts with non-string keys (an
    optimiser's per-parameter state) and tuples are tagged so they come back as they were."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, name: str) -> Any:
        if isinstance(x, torch.Tensor):
            tensors[name] = x
            return {"__tensor__": name}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x):
                return {k: walk(v, f"{name}.{k}") for k, v in x.items()}
            if all(isinstance(k, int) for k in x):
                return {"__intkeys__": {str(k): walk(v, f"{name}.{k}") for k, v in x.items()}}
            raise ValueError(f"cannot store a dict with keys of mixed types at {name}")
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v, f"{name}.{i}") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [walk(v, f"{name}.{i}") for i, v in enumerate(x)]
        if x is None or isinstance(x, bool | int | float | str):
            return x
        raise ValueError(f"cannot store a {type(x).__name__} at {name} in a checkpoint")

    return walk(state, prefix), tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`flatten_state`; ValueError if a tensor it names is missing."""

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            if set(x) == {"__tensor__"}:
                name = x["__tensor__"]
                if name not in tensors:
                    raise ValueError(f"checkpoint lacks tensor {name!r}")
                return tensors[name]
            if set(x) == {"__intkeys__"}:
                return {int(k): walk(v) for k, v in x["__intkeys__"].items()}
            if set(x) == {"__tuple__"}:
                return tuple(walk(v) for v in x["__tuple__"])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(skeleton)
