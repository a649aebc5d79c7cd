"""Labs: parameter sets plus frame generators, with no Qt.  ``LABS`` is the registry."""

from __future__ import annotations

import importlib

from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.params import ParamError

# Order is the lab list's order (and Ctrl+1..9); each module defines ``LAB``.
_MODULES = ("sampling", "em")
DEFAULT_LAB = "em"


def _load() -> dict[str, LabInfo]:
    labs = {}
    for mod in _MODULES:
        info = importlib.import_module(f"genlab.labs.{mod}").LAB
        labs[info.name] = info
    return labs


LABS: dict[str, LabInfo] = _load()


def get_lab(name: str) -> LabInfo:
    try:
        return LABS[name]
    except KeyError:
        raise ParamError(
            f"unknown lab '{name}': valid labs are {', '.join(LABS)}") from None


__all__ = ["LABS", "DEFAULT_LAB", "FrameGenerator", "LabError", "LabInfo", "RunContext",
           "get_lab"]
