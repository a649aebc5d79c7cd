"""Frames: what a lab yields, as immutable numpy data any thread can hand over.

A frame says *what* to draw (points, ellipses, a density ...), never *how*: colours, marker
sizes and themes belong to the UI.  Every array is a numpy array; the constructors convert
lists and torch tensors so a lab cannot leak a tensor into the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np


def _arr(a: Any, dtype: Any = np.float64) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor, converted without importing torch
        a = a.detach().cpu().numpy()
    # a private copy: freezing the lab's own array would make its later in-place updates
    # (or torch.from_numpy) fail, and sharing it would let them change a recorded frame
    out = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


def _opt(a: Any, dtype: Any = np.float64) -> np.ndarray | None:
    return None if a is None else _arr(a, dtype)


INK = "ink"  # the theme's text colour: an unnamed cloud, a neutral mark
MUTED = "muted"  # the theme's grey: backdrops, guides
# A layer's ``series``: an int is a palette colour; a str is INK, MUTED, or the name of one of
# the frame's Series (its look, and its legend text, come from there).
SeriesRef = int | str


@dataclass(frozen=True)
class Series:
    """One thing a lab shows (ULA, MALA, exact, learned, held-out …), named once.

    Every layer whose ``series`` is this name, every text label of it, the panel legends and
    every metric curve ``group/name`` take their look from here, so a reader learns one colour
    code per screen.  ``colour``: a palette index, INK or MUTED; ``dashed``: the line style of
    its curves and paths; ``marker``: "o", "x", "+", "s", "t" (triangle) or "d" for its points.
    """

    name: str
    colour: int | str = INK
    dashed: bool = False
    marker: str = "o"


@dataclass(frozen=True, eq=False)
class Layer:
    """Base of every layer kind."""

    def arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                yield f.name, v
            elif isinstance(v, tuple):
                for i, item in enumerate(v):
                    if isinstance(item, np.ndarray):
                        yield f"{f.name}[{i}]", item


@dataclass(frozen=True, eq=False)
class Points(Layer):
    """A point cloud.

    xy: (n, 2).  Colour comes from exactly one of: ``labels`` (n,) ints (a categorical
    palette), ``soft_labels`` (n, k) rows of weights summing to 1 (e.g. EM responsibilities:
    the point's colour mixes the palette colours of the k classes), ``values`` (n,) floats
    (a colour map), or nothing (``series``: INK by default, a palette index, or a Series
    name, whose marker is used too).
    ``size`` scales the theme's marker size; ``sizes`` (n,) scales each point's marker on top
    (e.g. by its mass); ``highlight`` draws the points larger with an outline.
    """

    xy: np.ndarray
    labels: np.ndarray | None = None
    soft_labels: np.ndarray | None = None
    values: np.ndarray | None = None
    size: float = 1.0
    alpha: float = 1.0
    series: SeriesRef = INK
    highlight: bool = False
    sizes: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xy", _arr(self.xy).reshape(-1, 2))
        object.__setattr__(self, "labels", _opt(self.labels, np.int64))
        object.__setattr__(self, "soft_labels", _opt(self.soft_labels))
        object.__setattr__(self, "values", _opt(self.values))
        object.__setattr__(self, "sizes", _opt(self.sizes))


@dataclass(frozen=True, eq=False)
class Ellipses(Layer):
    """Gaussian covariance ellipses at ``n_std`` standard deviations.

    means: (k, 2); covs: (k, 2, 2); weights: (k,) in [0, 1] or None (drawn as opacity and
    line width); labels: (k,) palette indices (default 0..k-1); ``dashed`` for a second
    model drawn over a first.  ``series``: a named Series these ellipses belong to (e.g. "EM"
    or "Adam"): its line style is theirs and the panel's key names it, while each component
    keeps its own colour.
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray | None = None
    labels: np.ndarray | None = None
    n_std: tuple[float, ...] = (1.0, 2.0)
    dashed: bool = False
    series: SeriesRef | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "means", _arr(self.means).reshape(-1, 2))
        object.__setattr__(self, "covs", _arr(self.covs).reshape(-1, 2, 2))
        object.__setattr__(self, "weights", _opt(self.weights))
        object.__setattr__(self, "labels", _opt(self.labels, np.int64))


@dataclass(frozen=True, eq=False)
class Paths(Layer):
    """Trajectories: (T, n, 2), one polyline per particle (all of length T).

    ``labels`` (n,) colour each particle's path from the palette (else colour ``series``).
    ``fade``: a trail whose older part fades out, so a moving cloud shows where each point
    came from; row T − 1 (the newest) is drawn at ``alpha`` and row 0 almost transparent.
    """

    xy: np.ndarray
    labels: np.ndarray | None = None
    series: SeriesRef = 0
    alpha: float = 0.6
    fade: bool = False

    def __post_init__(self) -> None:
        xy = _arr(self.xy)
        object.__setattr__(self, "xy", xy.reshape(xy.shape[0], -1, 2))
        object.__setattr__(self, "labels", _opt(self.labels, np.int64))


@dataclass(frozen=True, eq=False)
class Segments(Layer):
    """Line segments starts[i] -> ends[i], (m, 2) each; weights (m,) in [0, 1] as opacity."""

    starts: np.ndarray
    ends: np.ndarray
    weights: np.ndarray | None = None
    series: SeriesRef = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", _arr(self.starts).reshape(-1, 2))
        object.__setattr__(self, "ends", _arr(self.ends).reshape(-1, 2))
        object.__setattr__(self, "weights", _opt(self.weights))


@dataclass(frozen=True, eq=False)
class VectorField(Layer):
    """Arrows at xy (m, 2) with vectors uv (m, 2), drawn scaled to the grid spacing."""

    xy: np.ndarray
    uv: np.ndarray
    series: SeriesRef = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "xy", _arr(self.xy).reshape(-1, 2))
        object.__setattr__(self, "uv", _arr(self.uv).reshape(-1, 2))


@dataclass(frozen=True, eq=False)
class Heatmap(Layer):
    """A scalar field on a regular grid: values (ny, nx) over extent (x0, x1, y0, y1).

    ``values[i, j]`` is the field at x = x0 + (j + 0.5) dx, y = y0 + (i + 0.5) dy.
    ``contours`` adds iso-lines at that many levels (0: none).  ``levels`` (lo, hi) fixes the
    values the colour map spans (None: the field's min and max; a constant field of masses
    would then draw as blank as zeros, so give (0, max) for non-negative data).
    """

    values: np.ndarray
    extent: tuple[float, float, float, float]
    contours: int = 0
    show_image: bool = True
    levels: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _arr(self.values))
        object.__setattr__(self, "extent", tuple(float(v) for v in self.extent))
        if self.levels is not None:
            object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))


@dataclass(frozen=True, eq=False)
class Curve(Layer):
    """A 1D curve y(x), x and y (n,)."""

    x: np.ndarray
    y: np.ndarray
    series: SeriesRef = 0
    width: float = 2.0
    dashed: bool = False
    fill: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _arr(self.x).ravel())
        object.__setattr__(self, "y", _arr(self.y).ravel())


@dataclass(frozen=True, eq=False)
class Histogram(Layer):
    """A histogram: edges (b + 1,), heights (b,) (already normalised as the lab wants)."""

    edges: np.ndarray
    heights: np.ndarray
    series: SeriesRef = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", _arr(self.edges).ravel())
        object.__setattr__(self, "heights", _arr(self.heights).ravel())


@dataclass(frozen=True, eq=False)
class Grid(Layer):
    """A (possibly warped) mesh: xy (ny, nx, 2), drawn as its grid lines."""

    xy: np.ndarray
    series: SeriesRef = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "xy", _arr(self.xy))


@dataclass(frozen=True, eq=False)
class Labels(Layer):
    """Text annotations: texts[i] names the thing at xy[i] (m, 2).

    The canvas puts each text next to its anchor, not on it: clear of the panel's other
    labels, labelled points and handles (with a thin leader line when it had to move away),
    in the colour of ``series`` (INK by default, or the Series it names).
    """

    xy: np.ndarray
    texts: tuple[str, ...]
    series: SeriesRef = INK

    def __post_init__(self) -> None:
        object.__setattr__(self, "xy", _arr(self.xy).reshape(-1, 2))
        object.__setattr__(self, "texts", tuple(str(t) for t in self.texts))


@dataclass(frozen=True, eq=False)
class Arrows(Layer):
    """Arrows from starts[i] to ends[i] (m, 2 each), with heads, in data units.

    Unlike a VectorField (a grid of arrows scaled to its spacing), each arrow keeps its length;
    one shorter than ``min_px`` pixels on screen is drawn ``min_px`` long in its direction
    (and the panel title says so), so a small score at a probe stays visible.
    """

    starts: np.ndarray
    ends: np.ndarray
    series: SeriesRef = 0
    min_px: float = 28.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", _arr(self.starts).reshape(-1, 2))
        object.__setattr__(self, "ends", _arr(self.ends).reshape(-1, 2))


@dataclass(frozen=True, eq=False)
class Handles(Layer):
    """Points the user drags with the mouse, each bound to numeric parameters of the lab.

    xy: (k, 2).  Dragging handle i sets the parameter named ``x_params[i]`` to the pointer's x
    and ``y_params[i]`` to its y (None: that coordinate is not bound and stays put), through
    the same validation as the parameter panel (values are clipped to the field's range).
    Live fields change the running generator while the mouse moves; other fields restart the
    run when the mouse is released.  ``texts`` label the handles (optional).
    """

    xy: np.ndarray
    x_params: tuple[str | None, ...]
    y_params: tuple[str | None, ...]
    texts: tuple[str, ...] = ()
    series: SeriesRef = INK

    def __post_init__(self) -> None:
        xy = _arr(self.xy).reshape(-1, 2)
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "x_params", tuple(self.x_params))
        object.__setattr__(self, "y_params", tuple(self.y_params))
        object.__setattr__(self, "texts", tuple(str(t) for t in self.texts))
        if not (len(self.x_params) == len(self.y_params) == len(xy)):
            raise ValueError("Handles: x_params and y_params need one entry per handle")


@dataclass(frozen=True, eq=False)
class ImageGrid(Layer):
    """Images (n, h, w) or (n, h, w, 3) in [0, 1], tiled in ``cols`` columns."""

    images: np.ndarray
    cols: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", _arr(self.images, np.float32))


@dataclass(frozen=True, eq=False)
class Panel:
    """One plot of a frame: named layers drawn in order, with fixed axes.

    ``xlim``/``ylim`` fix the view so an animation does not jump (None: fit the data once).
    ``equal_aspect`` for the 2D plane; off for 1D densities and histograms.
    ``link``: panels of a frame with the same non-empty link name are linked canvases: they
    pan and zoom together (e.g. the same particles under two samplers, compared point by
    point).
    ``legend``: a key of the named Series drawn in the panel, under its title (None: when
    the panel shows two or more of them).  ``axes`` False hides the axes (a grid of images,
    whose pixel coordinates mean nothing to a reader).
    """

    layers: Mapping[str, Layer]
    title: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    equal_aspect: bool = True
    xlabel: str = ""
    ylabel: str = ""
    link: str = ""
    legend: bool | None = None
    axes: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", MappingProxyType(dict(self.layers)))

    def series_names(self) -> list[str]:
        """Names of the Series its layers refer to, in drawing order, each once."""
        out: list[str] = []
        for layer in self.layers.values():
            ref = getattr(layer, "series", None)
            if isinstance(ref, str) and ref not in (INK, MUTED) and ref not in out:
                out.append(ref)
        return out


@dataclass(frozen=True, eq=False)
class Frame:
    """One picture of a run.

    step: index of this frame in its run (0-based); total: the run's frame count if known;
    panels: the plots, drawn side by side; caption: one sentence saying what the frame shows.

    series: the lab's named things (``Series``), the same tuple in every frame of every
    preset, so each has one look everywhere.  A layer's str ``series`` must name one of them.

    metrics: scalars plotted live (a name ``group/series`` puts series of one group on
    shared axes; a series named in ``series`` takes its look, any other a palette colour no
    named series uses), against ``x`` in the lab's own unit ``xlabel`` ("EM iteration",
    "training step", "guidance w"; None: the frame step, labelled "frame").  log_metrics:
    metric groups drawn on a logarithmic y axis (their values must be > 0).
    values: end results that are one number each, not a history (``group/series`` too):
    drawn as labelled bars, never as flat lines.

    Pacing, for the player and for exports: the frame stays on screen ``pace`` times the
    frame interval (2: a stretch in slow motion) plus ``hold`` seconds (a beat the viewer
    needs time to see).

    status: a line about the machine rather than the picture (steps/s, ETA, the device),
    shown beside the playback controls and never exported, so it may change from run to run;
    notice: a one-off message for the status bar (e.g. "saved checkpoint …").
    """

    step: int
    title: str
    panels: tuple[Panel, ...]
    total: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    caption: str = ""
    log_metrics: tuple[str, ...] = ()
    series: tuple[Series, ...] = ()
    x: float | None = None
    xlabel: str = ""
    values: Mapping[str, float] = field(default_factory=dict)
    hold: float = 0.0
    pace: float = 1.0
    status: str = ""
    notice: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "panels", tuple(self.panels))
        object.__setattr__(self, "log_metrics", tuple(self.log_metrics))
        object.__setattr__(self, "series", tuple(self.series))
        object.__setattr__(
            self, "metrics", MappingProxyType({k: float(v) for k, v in self.metrics.items()})
        )
        object.__setattr__(
            self, "values", MappingProxyType({k: float(v) for k, v in self.values.items()})
        )
        if self.x is not None:
            object.__setattr__(self, "x", float(self.x))
        object.__setattr__(self, "hold", max(0.0, float(self.hold)))
        object.__setattr__(self, "pace", max(0.0, float(self.pace)))
        known = {s.name for s in self.series}
        if len(known) != len(self.series):
            raise ValueError("Frame: two Series share a name")
        for panel in self.panels:
            for name in panel.series_names():
                if name not in known:
                    raise ValueError(f"Frame: a layer of panel '{panel.title}' refers to "
                                     f"series '{name}', which the frame does not declare")

    def style(self, name: str) -> Series | None:
        """The declared Series called ``name``, or None."""
        for s in self.series:
            if s.name == name:
                return s
        return None

    @property
    def metric_x(self) -> float:
        """Where this frame's metrics go on the metric plots' x axis."""
        return float(self.step) if self.x is None else self.x

    def texts(self) -> Iterator[str]:
        """Every string the frame puts on screen."""
        yield self.title
        yield self.caption
        yield self.xlabel
        for panel in self.panels:
            yield panel.title
            yield panel.xlabel
            yield panel.ylabel
            for layer in panel.layers.values():
                yield from getattr(layer, "texts", ())
        yield from self.metrics
        yield from self.values
        for s in self.series:
            yield s.name

    def arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        for p, panel in enumerate(self.panels):
            for name, layer in panel.layers.items():
                for aname, a in layer.arrays():
                    yield f"panel {p} / {name}.{aname}", a

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes for _, a in self.arrays())
                + 64 * (len(self.metrics) + len(self.values)) + 512)

    def first_nonfinite(self) -> str | None:
        """Name of the first metric or float array holding a NaN or an infinity, else None."""
        for k, v in (*self.metrics.items(), *self.values.items()):
            if not np.isfinite(v):
                return f"metric '{k}'"
        for name, a in self.arrays():
            if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
                return name
        return None


def message_frame(title: str, caption: str, step: int = 0) -> Frame:
    """A frame with nothing to draw but a caption (e.g. 'draw some points first')."""
    return Frame(step=step, title=title, panels=(Panel({}, xlim=(-4, 4), ylim=(-4, 4)),),
                 total=1, caption=caption)
