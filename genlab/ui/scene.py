"""Scenes and lectures: what the window shows, saved as small JSON files and reopened exactly.

A scene is a lab with its parameters (seed included), the view rectangle of each panel, the
theme, the scale, the points drawn (with their colours), the playback speed, a title and
notes.  A lecture is a list of scenes (``{"title": …, "scenes": [scene, …]}``) stepped with
PageDown and PageUp in presentation mode.  Files are validated completely before anything
changes: a bad one raises ``SceneError`` with one line naming the field, and the window keeps
what it shows.  No code is ever run from a file (plain JSON, checked field by field).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "genlab-scene"
LECTURE_FORMAT = "genlab-lecture"
MAX_POINTS = 200_000


class SceneError(ValueError):
    """A scene or lecture file that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Scene:
    lab: str
    params: dict[str, Any]
    title: str = ""
    notes: str = ""
    theme: str = "light"
    scale: float = 1.0
    fps: float = 20.0
    views: tuple[tuple[float, float, float, float], ...] = ()  # per panel: x0, x1, y0, y1
    drawn: tuple[tuple[float, float], ...] = ()
    drawn_labels: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = FORMAT
        d.pop("extra")
        return d


def _number(d: dict, key: str, where: str, lo: float, hi: float, default: float) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise SceneError(f"{where}: '{key}' must be a number from {lo:g} to {hi:g}, got {v!r}")
    return float(v)


def scene_from_json(d: Any, where: str = "scene") -> Scene:
    """A validated Scene (its params checked against its lab's fields); SceneError else."""
    from genlab.labs import LABS
    from genlab.labs.params import ParamError, from_dict

    if not isinstance(d, dict):
        raise SceneError(f"{where}: a scene is a JSON object")
    lab = d.get("lab")
    if lab not in LABS:
        raise SceneError(f"{where}: 'lab' must be one of {', '.join(LABS)}, got {lab!r}")
    params = d.get("params", {})
    if not isinstance(params, dict):
        raise SceneError(f"{where}: 'params' must be an object of field: value")
    try:
        from_dict(LABS[lab].params, params)
    except ParamError as e:
        raise SceneError(f"{where}: params: {e}") from None
    for key in ("title", "notes"):
        if not isinstance(d.get(key, ""), str):
            raise SceneError(f"{where}: '{key}' must be text")
    theme = d.get("theme", "light")
    from genlab.ui.theme import THEMES

    if theme not in THEMES:
        raise SceneError(f"{where}: 'theme' must be one of {', '.join(THEMES)}, got {theme!r}")
    scale = _number(d, "scale", where, 0.5, 3.0, 1.0)
    fps = _number(d, "fps", where, 0.0, 120.0, 20.0)
    views = d.get("views", [])
    if not isinstance(views, list) or not all(
            isinstance(v, list) and len(v) == 4 and all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in v) and v[0] < v[1] and v[2] < v[3] for v in views):
        raise SceneError(f"{where}: 'views' must be a list of [x0, x1, y0, y1] with x0 < x1 "
                         "and y0 < y1")
    drawn = d.get("drawn", [])
    if not isinstance(drawn, list) or len(drawn) > MAX_POINTS or not all(
            isinstance(q, list) and len(q) == 2 and all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                and abs(x) <= 1e6 for x in q) for q in drawn):
        raise SceneError(f"{where}: 'drawn' must be a list of [x, y] points (finite, at most "
                         f"{MAX_POINTS})")
    labels = d.get("drawn_labels", [])
    if not isinstance(labels, list) or (labels and len(labels) != len(drawn)) or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 19 for k in labels):
        raise SceneError(f"{where}: 'drawn_labels' must be one whole number 0..19 per point")
    return Scene(lab=lab, params=dict(params), title=d.get("title", ""),
                 notes=d.get("notes", ""), theme=theme, scale=scale, fps=fps,
                 views=tuple(tuple(float(x) for x in v) for v in views),
                 drawn=tuple((float(a), float(b)) for a, b in drawn),
                 drawn_labels=tuple(int(k) for k in labels))


def _read(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SceneError(f"{p.name}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise SceneError(f"{p.name}: not a text file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SceneError(f"{p.name}: not valid JSON (line {e.lineno}: {e.msg})") from None


def load_scene(path: str | Path) -> Scene:
    d = _read(path)
    name = Path(path).name
    if isinstance(d, dict) and d.get("format") not in (None, FORMAT):
        raise SceneError(f"{name}: 'format' is {d.get('format')!r}, not a genlab scene")
    return scene_from_json(d, name)


def save_scene(scene: Scene, path: str | Path) -> Path:
    p = Path(path)
    tmp = p.with_name(f".{p.name}.part")
    tmp.write_text(json.dumps(scene.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(p)
    return p


@dataclass(frozen=True)
class Lecture:
    title: str
    scenes: tuple[Scene, ...]


def load_lecture(path: str | Path) -> Lecture:
    d = _read(path)
    name = Path(path).name
    if not isinstance(d, dict) or not isinstance(d.get("scenes"), list) or not d["scenes"]:
        raise SceneError(f"{name}: a lecture is an object with a non-empty 'scenes' list")
    if d.get("format") not in (None, LECTURE_FORMAT):
        raise SceneError(f"{name}: 'format' is {d.get('format')!r}, not a genlab lecture")
    if not isinstance(d.get("title", ""), str):
        raise SceneError(f"{name}: 'title' must be text")
    scenes = tuple(scene_from_json(s, f"{name}, scene {i + 1}")
                   for i, s in enumerate(d["scenes"]))
    return Lecture(d.get("title", ""), scenes)
