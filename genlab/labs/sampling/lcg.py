"""The sampling lab's "lcg" mode: X ← (aX + c) mod m, its pairs in the unit square, and its
triples in the unit cube, which turns until it is seen along the spectral test's worst normal
h: RANDU's triples then stand on 15 planes, while numpy's PCG64 triples, turned the same way,
fill the cube.

Story (at FPS): the points arrive over ACC frames (pairs, and the cube face-on, which is the
same picture), a beat, the cube turns over TURN frames, and the edge-on view is held.
"""

from __future__ import annotations

import numpy as np

from genlab.engine.sampling import GENERATORS, lcg_uniforms, planes_hit, worst_planes
from genlab.labs.base import FrameGenerator
from genlab.labs.frame import MUTED, Frame, Panel, Points, Segments
from genlab.labs.sampling.common import SERIES, minus
from genlab.labs.sampling.params import Params

ACC = 40  # frames over which the points arrive ...
ACC_PACE = 2.0  # ... at a tenth of a second each
HOLD_FACE_ON = 1.5  # seconds on the cube face-on, all points drawn, before it turns
TURN = 60  # frames of the turn (three seconds)
HOLD_EDGE_ON = 4.0  # seconds on the edge-on view: the planes
VIEW = 0.9  # half side of the cube panels: the centred cube's corners are √3/2 away
GAP_GROUP = "widest gap along h"
GAP_SHARE = 0.9  # the gap is measured between the central 90% of the triples along h
MIN_GAP_COUNT = 20  # ... once there are this many

_DISPLAY = {"RANDU": "RANDU", "MINSTD": "MINSTD", "Numerical Recipes": "Numerical Recipes' LCG",
            "tiny lattice": "the tiny LCG"}


def lcg_spec(p: Params) -> tuple[str, int, int, int]:
    """(display name, m, a, c) of the chosen generator; a custom one's a, c taken mod m."""
    if p.generator == "custom":
        m = int(p.m)
        return "this LCG", m, p.a % m, p.c % m
    g = GENERATORS[p.generator]
    return _DISPLAY[p.generator], g.m, g.a, g.c


def edge_on_frame(h: np.ndarray) -> np.ndarray:
    """A rotation (rows e1, e2, e3) with e1 = h/|h|, e2 ⟂ e1 as close to the cube's diagonal
    as possible, and e3 = e1 × e2: looking along e3, the planes h·u = const are lines."""
    e1 = h.astype(np.float64) / np.linalg.norm(h)
    for guess in ([1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [0.0, 0.0, 1.0]):
        v = np.array(guess) - (np.array(guess) @ e1) * e1
        if np.linalg.norm(v) > 1e-6:
            e2 = v / np.linalg.norm(v)
            return np.stack([e1, e2, np.cross(e1, e2)])
    raise AssertionError("unreachable: three guesses cannot all be parallel to h")


def turning(edge_on: np.ndarray, t: float) -> np.ndarray:
    """The view a fraction t of the way from face-on (the identity: x = U_t, y = U_t+1) to
    ``edge_on``, turning about one fixed axis."""
    from scipy.spatial.transform import Rotation

    if t <= 0.0:
        return np.eye(3)
    if t >= 1.0:
        return edge_on
    return Rotation.from_rotvec(t * Rotation.from_matrix(edge_on).as_rotvec()).as_matrix()


def _cube_edges(view: np.ndarray) -> Segments:
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if np.abs(corners[a] - corners[b]).sum() == 1]
    starts = (np.array([corners[a] for a, _ in pairs]) - 0.5) @ view[:2].T
    ends = (np.array([corners[b] for _, b in pairs]) - 0.5) @ view[:2].T
    return Segments(starts, ends, series=MUTED)


def widest_gap(along: np.ndarray) -> float:
    """The widest gap between neighbouring values of ``along`` (triples projected on h/|h|)
    among their central GAP_SHARE: on planes it stays at their spacing however many triples
    come, for uniform triples it closes like log(n)/n.  The tails are left out, where even
    uniform triples are sparse (near the cube's corners)."""
    v = np.sort(along)
    lo, hi = np.quantile(v, [(1 - GAP_SHARE) / 2, (1 + GAP_SHARE) / 2])
    mid = v[(v >= lo) & (v <= hi)]
    return float(np.diff(mid).max()) if len(mid) > 1 else 0.0


def _vec(h: np.ndarray) -> str:
    return minus("(" + ", ".join(str(int(v)) for v in h) + ")")


def counts_per_frame(n: int) -> np.ndarray:
    """Points drawn by each of the ACC frames: from n/ACC up to n, geometrically."""
    first = max(1, n // ACC)
    c = np.ceil(np.geomspace(first, n, ACC)).astype(np.int64)
    c = np.minimum(np.maximum.accumulate(c), n)
    c[-1] = n
    return c


def run_lcg(p: Params) -> FrameGenerator:
    name, m, a, c = lcg_spec(p)
    n = p.n_samples
    u = lcg_uniforms(m, a, c, p.x0 % m, n + 2)
    pairs = np.column_stack([u[:n], u[1:n + 1]])
    triples = np.column_stack([u[:n], u[1:n + 1], u[2:n + 2]])
    ref = np.random.default_rng(p.seed).random(n + 2)
    ref_triples = np.column_stack([ref[:n], ref[1:n + 1], ref[2:n + 2]])
    h, crossing = worst_planes(m, a, 3, c)
    h2, crossing2 = worst_planes(m, a, 2, c)
    # the planes and lines that carry points: the cube count is only a bound (a tiny LCG's
    # period meets 21 of the 22 lines crossing the square)
    planes = planes_hit(triples, h) if crossing <= 60 else crossing
    lines = planes_hit(pairs, h2) if crossing2 <= 60 else crossing2
    edge_on = edge_on_frame(h)
    along = (triples @ edge_on[0], ref_triples @ edge_on[0])

    hs = _vec(h)
    planes_s = f"{planes} plane{'s' if planes != 1 else ''}"
    spacing = 1.0 / float(np.linalg.norm(h))
    gaps = (widest_gap(along[0]), widest_gap(along[1]))
    if planes <= 60:
        end_caption = (f"Seen along h = {hs}, {name}'s triples stand on {planes_s}, "
                       f"{spacing:.3f} apart, while numpy's PCG64 triples, turned the same "
                       f"way, fill the cube: the widest gap along h stays {gaps[0]:.3f} for "
                       f"the LCG and closes to {gaps[1]:.3f} for PCG64.")
    else:
        end_caption = (f"Seen along h = {hs}, {name}'s triples lie on planes only "
                       f"{spacing:.2g} apart ({planes} of them cross the cube): too fine to "
                       "see here, and the widest gap along "
                       f"h closes for the LCG ({gaps[0]:.2g}) as for numpy's PCG64 "
                       f"({gaps[1]:.2g}).")
    pairs_s = (f"its pairs already fall on {lines} lines (normal {_vec(h2)})"
               if lines <= 60 else "its pairs look evenly spread")
    gen = (f"m = {m}, a = {a}, c = {c}" if p.generator == "custom" else p.generator)
    title = f"X ← (aX + c) mod m: {gen}"
    pairs_title = "pairs (U_t, U_t+1)" + (f": {lines} lines" if lines <= 60 else "")
    counts = counts_per_frame(n)
    lim = {"xlim": (-VIEW, VIEW), "ylim": (-VIEW, VIEW)}
    frames = ACC + TURN
    for f in range(frames):
        k = int(counts[min(f, ACC - 1)])
        t = max(0.0, (f - ACC + 1) / TURN)
        view = turning(edge_on, float(t * t * (3.0 - 2.0 * t)))
        cube = _cube_edges(view)
        if t <= 0.0:
            caption = (f"{name[0].upper() + name[1:]} (m = {m}, a = {a}, c = {c}): "
                       f"{pairs_s}; its triples "
                       "(U_t, U_t+1, U_t+2), seen face-on, give the same picture, and so do "
                       "numpy's PCG64 triples.")
            axes = ("U_t (face-on)", "U_t+1 (face-on)")
        elif t < 1.0:
            caption = (f"The cube of triples turns until it is seen along h = {hs}, the "
                       "normal the spectral test finds for this generator's widest-spaced "
                       "planes; PCG64's cube turns the same way.")
            axes = ("turning towards h", "across")
        else:
            caption = end_caption
            axes = (f"along h = {hs} / |h|", "across")
        panels = (
            Panel({"pairs": Points(pairs[:k], size=0.6, series="LCG")},
                  title=pairs_title, xlim=(-0.02, 1.02), ylim=(-0.02, 1.02),
                  xlabel="U_t", ylabel="U_t+1"),
            Panel({"cube": cube,
                   "triples": Points((triples[:k] - 0.5) @ view[:2].T, size=0.6,
                                     series="LCG")},
                  title=f"triples of {p.generator}", xlabel=axes[0], ylabel=axes[1], **lim),
            Panel({"cube": cube,
                   "triples": Points((ref_triples[:k] - 0.5) @ view[:2].T, size=0.6,
                                     series="PCG64")},
                  title="numpy's PCG64, the same view", xlabel=axes[0], ylabel=axes[1],
                  **lim),
        )
        hold = HOLD_FACE_ON if f == ACC - 1 else HOLD_EDGE_ON if f == frames - 1 else 0.0
        new = yield Frame(step=f, total=frames, title=title, panels=panels,
                          metrics={f"{GAP_GROUP}/LCG": widest_gap(along[0][:k]),
                                   f"{GAP_GROUP}/PCG64": widest_gap(along[1][:k])}
                          if k >= MIN_GAP_COUNT else {},
                          log_metrics=(GAP_GROUP,),
                          caption=caption, series=SERIES, x=k, xlabel="triples drawn",
                          pace=ACC_PACE if f < ACC else 1.0, hold=hold)
        if new is not None:
            p = new  # nothing in this mode is live; kept for the protocol
