"""Labs: parameter sets plus frame generators, with no Qt.

``LABS`` (the registry, name -> LabInfo) is built on first use, so importing a submodule
such as ``genlab.labs.frame`` does not import every lab.
"""

from __future__ import annotations

import importlib
from typing import Any

from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.params import ParamError

# Order is the lab list's order (and Ctrl+1..9); each module defines ``LAB``.
_MODULES = ("sampling", "em", "ot", "flow", "divergence", "langevin", "diffusion", "ode_sde",
            "flow_matching", "guidance", "images", "vae", "gan", "annulus", "interpolation")
DEFAULT_LAB = "em"
_registry: dict[str, LabInfo] | None = None


def _load() -> dict[str, LabInfo]:
    global _registry
    if _registry is None:
        labs = {}
        for mod in _MODULES:
            info = importlib.import_module(f"genlab.labs.{mod}").LAB
            labs[info.name] = info
        _registry = labs
    return _registry


def __getattr__(name: str) -> Any:
    if name == "LABS":
        return _load()
    raise AttributeError(name)


def get_lab(name: str) -> LabInfo:
    labs = _load()
    try:
        return labs[name]
    except KeyError:
        raise ParamError(f"unknown lab '{name}': valid labs are {', '.join(labs)}") from None


__all__ = ["LABS", "DEFAULT_LAB", "FrameGenerator", "LabError", "LabInfo", "RunContext",
           "get_lab"]
