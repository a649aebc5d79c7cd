"""Named parameter sets per lab, shipped as JSON in ``genlab/presets/<lab>.json``.

File format: ``{"presets": [{"name": ..., "description": ..., "params": {...}}, ...]}``.
The first preset is the lab's default demo.  Params not named keep the dataclass default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from genlab.labs.params import ParamError, from_dict

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    values: tuple[tuple[str, Any], ...]

    def params(self, cls: type) -> Any:
        return from_dict(cls, dict(self.values))


@cache
def presets_for(lab: str) -> tuple[Preset, ...]:
    path = PRESET_DIR / f"{lab}.json"
    if not path.exists():
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Preset(p["name"], p.get("description", ""), tuple(sorted(p.get("params", {}).items())))
        for p in data["presets"]
    )


def find_preset(lab: str, name: str) -> Preset:
    for p in presets_for(lab):
        if p.name == name:
            return p
    names = ", ".join(repr(p.name) for p in presets_for(lab)) or "(none)"
    raise ParamError(f"unknown preset '{name}' for lab '{lab}': valid presets are {names}")
