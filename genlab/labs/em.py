"""Lab "em": a Gaussian mixture fitted by expectation-maximisation, one half-step per frame.

Frame 0 shows the data and the initial components.  Each EM iteration then gives two frames:

* E-step: every point is coloured by its responsibilities γ_ik (a mix of the component
  colours); the ellipses are still the old parameters;
* M-step: the components move to the responsibility-weighted means and covariances (line
  width and opacity follow π_k / max π), the density is redrawn, and the mean log-likelihood
  goes up.

The log-likelihood is plotted against the EM iteration: an M-step frame at its iteration i,
the E-step before it at i − ½ (it does not change the parameters, so the curve is flat there).

Optionally a second panel fits the same mixture from the same start by gradient ascent (Adam,
``genlab.engine.gmm_grad``, which imports torch only then), a few steps per EM iteration.  EM
and Adam are the lab's two named series: EM's ellipses and curve solid, Adam's dashed.  Once
EM has converged, each further frame is one iteration of Adam alone.

Pacing (at FPS): the start is held, the first iterations take a second each, later ones
speed up, and a run ends (and holds) once EM has converged: it gained less than
CONVERGED_GAIN, or it creeps by invisible amounts (``_Settle``).

The numerics live in ``genlab.engine.gmm``.  For large data the responsibilities are sent as
soft labels only while n * K <= SOFT_LABEL_LIMIT (beyond that each point carries the label
of its most responsible component, to keep frames small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import numpy as np

from genlab.engine import gmm
from genlab.engine.datasets import DATASETS
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.data import DATA_CHOICES, lab_data
from genlab.labs.frame import (
    INK,
    Ellipses,
    Frame,
    Heatmap,
    Layer,
    Panel,
    Points,
    Series,
    message_frame,
)
from genlab.labs.params import Choice, Flag, Range

INITS = ("k-means++", "random", "clicked")
DENSITIES = ("heatmap", "contours", "none")
OVERFIT_K = 100
GRID = 150
CONVERGED_GAIN = 1e-7
SOFT_LABEL_LIMIT = 1_000_000
N_STD = (1.0, 2.0)

# Each method one look in the panels (solid or dashed ellipses), their keys and the curves;
# the components themselves keep their palette colours, the same in both panels.
SERIES = (Series("EM", INK), Series("Adam", INK, dashed=True, marker="+"))

# Pacing at FPS frames per second: one E or M frame is half a second at pace 1.
FPS = 2.0
HOLD_START = 1.5  # seconds the start (data and initial components) is held
SLOW_ITERS = 4  # the first iterations, where the components move most, at pace 1 ...
EASE_ITERS = 8  # ... then the pace eases over this many iterations ...
FAST = 0.4  # ... to this (a fifth of a second per frame)
# ... and faster still through a stretch where the fit barely moves (an iteration after one
# that gained less than QUIET_GAIN with no mean moving QUIET_MOVE of the view, two pixels)
QUIET = 0.2
QUIET_GAIN = 3e-4
QUIET_MOVE = 2e-3
HOLD_END = 2.5  # seconds the last frame is held
# A fit has settled when, STILL_ITERS iterations in a row, the mean log-likelihood changed by
# less than STILL_GAIN and no mean moved more than STILL_MOVE of the view's width (a fifth of
# a pixel).  Both are needed, and tight: the moons creep on at 8e-7 per iteration for ever,
# but the 8 gaussians pause near 5e-5 per iteration with two components on one cluster before
# they split, and the over-fitting moons pause near 3e-7 with means still drifting by a
# quarter of a pixel before components collapse onto single points.
STILL_GAIN = 1e-6
STILL_MOVE = 2e-4
STILL_ITERS = 5
MATCH = 1e-3  # Adam "matches" EM within this much mean log-likelihood

# ``when`` compares with the other field's value, here a bool.
_ADAM: Any = ("compare_adam", (True,))
_NOT_OVERFIT: Any = ("overfit", (False,))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the points to fit: a toy data set, or the points you drew")] = "8gaussians"
    n_points: Annotated[int, Range(
        10, 100_000, "how many data points to draw from the data set", step=10,
        when=("dataset", DATASETS), label="points")] = 600
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    k: Annotated[int, Range(
        1, 20, "number of mixture components K (with init = clicked: one per click)",
        when=_NOT_OVERFIT, label="K")] = 8
    overfit: Annotated[bool, Flag(
        f"use K = {OVERFIT_K} components to show over-fitting")] = False
    init: Annotated[str, Choice(
        INITS, "initial means: k-means++ (spread out by D² sampling), random data points, "
        "or the points you clicked with the Place tool")] = "k-means++"
    covariance: Annotated[str, Choice(
        gmm.COVARIANCE_TYPES, "shape of each component: full ellipses, axis-aligned (diag) "
        "or circles (spherical)")] = "full"
    reg_covar: Annotated[float, Range(
        1e-6, 1.0, "ε added to every covariance's diagonal, so that a component collapsing "
        "onto a point keeps a finite density", log=True, label="ε (reg covar)")] = 1e-3
    n_iter: Annotated[int, Range(
        1, 500, "how many EM iterations to run (it stops early once converged)",
        label="iterations")] = 60
    density: Annotated[str, Choice(
        DENSITIES, "how to show the mixture density p(x)", live=True)] = "heatmap"
    compare_adam: Annotated[bool, Flag(
        "fit the same mixture by gradient ascent (Adam, full covariances) beside EM, from the "
        "same start (loads torch)", label="compare with Adam")] = False
    adam_lr: Annotated[float, Range(
        1e-3, 0.5, "Adam's step size", log=True, live=True, when=_ADAM,
        label="Adam step size")] = 0.05
    adam_steps_per_iter: Annotated[int, Range(
        1, 50, "Adam steps taken per EM iteration", when=_ADAM,
        label="Adam steps / iteration")] = 5
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data set and of the initial means")] = 5


# ------------------------------------------------------------------------------ helpers


def _fmt(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


def _eps(v: float) -> str:
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _limits(x: np.ndarray, extra: np.ndarray | None) -> tuple[tuple[float, float],
                                                              tuple[float, float]]:
    pts = x if extra is None or len(extra) == 0 else np.concatenate([x, extra])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = hi - lo
    span = np.where(span > 1e-9, span, 2.0)
    mid = 0.5 * (lo + hi)
    lo, hi = mid - 0.6 * span, mid + 0.6 * span  # 10% margin on each side
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


class _Grid:
    """The panel's extent and the cell centres where the density is evaluated."""

    def __init__(self, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.extent = (xlim[0], xlim[1], ylim[0], ylim[1])
        xs = xlim[0] + (np.arange(GRID) + 0.5) * (xlim[1] - xlim[0]) / GRID
        ys = ylim[0] + (np.arange(GRID) + 0.5) * (ylim[1] - ylim[0]) / GRID
        xx, yy = np.meshgrid(xs, ys)
        self.points = np.column_stack([xx.ravel(), yy.ravel()])

    def density(self, s: gmm.GMMState) -> np.ndarray:
        logp = gmm.log_density(self.points, s.weights, s.means, s.covariances)
        return np.exp(logp).reshape(GRID, GRID)


def _colours(resp: np.ndarray | None) -> dict[str, Any]:
    if resp is None:
        return {}
    if resp.size <= SOFT_LABEL_LIMIT:
        return {"soft_labels": resp}
    return {"labels": np.argmax(resp, axis=1)}


def _layers(density: np.ndarray, grid: _Grid, mode: str, data: Points,
            s: gmm.GMMState, dashed: bool = False) -> dict[str, Layer]:
    layers: dict[str, Layer] = {}
    if mode != "none":
        contours = mode == "contours"
        layers["density"] = Heatmap(density, grid.extent, contours=8 if contours else 0,
                                    show_image=not contours)
    layers["data"] = data
    layers["ellipses"] = Ellipses(s.means, s.covariances, weights=s.weights / s.weights.max(),
                                  labels=np.arange(len(s.weights)), n_std=N_STD,
                                  dashed=dashed)
    return layers


def _list(idx: Sequence[int]) -> str:
    idx = [int(i) for i in idx]
    if len(idx) == 1:
        return f"component {idx[0]} is"
    shown = ", ".join(str(i) for i in idx[:5]) + (" …" if len(idx) > 5 else "")
    return f"components {shown} are"


def _notes(s: gmm.GMMState, n: int, reg: float) -> list[str]:
    """Sentences about degenerate components of the state s."""
    notes = []
    k = len(s.weights)
    nk = s.weights * n
    det = np.linalg.det(s.covariances)
    collapsing = np.flatnonzero((det < 10.0 * reg * reg) & (nk >= 1e-3))
    if len(collapsing):
        notes.append(f"{_list(collapsing)} collapsing onto a few points; ε = {_eps(reg)} keeps "
                     f"{'its covariance' if len(collapsing) == 1 else 'their covariances'} "
                     "finite.")
    empty = int(np.sum(nk < 1e-3))
    if empty:
        verb = "explains" if empty == 1 else "explain"
        notes.append(f"{empty} of the {k} components {verb} almost no point (N_k < 0.001); "
                     "ε keeps them finite.")
    return notes


def _start_notes(k: int, n: int, n_distinct: int, reg: float) -> list[str]:
    notes = []
    if k > n:
        notes.append(f"K = {k} components for {n} points: some components get no points and "
                     f"are kept finite by ε = {_eps(reg)}.")
    elif k > n_distinct:
        notes.append(f"K = {k} components but only {n_distinct} distinct points: components "
                     f"must share points, and ε = {_eps(reg)} keeps them finite.")
    if n_distinct < n:
        notes.append(f"The data hold duplicates ({n_distinct} distinct points among {n}): a "
                     "component sitting on one of them shrinks to ε.")
    if n_distinct == 1:
        notes.append("All points coincide: every covariance can only be ε I.")
    return notes


def _join(main: str, notes: Sequence[str]) -> str:
    return " ".join([main, *notes])


# ------------------------------------------------------------------------------ pacing


def pace_of(it: int, quiet: bool = False) -> float:
    """How many frame intervals the frames of iteration ``it`` stay: 1 for the first
    SLOW_ITERS iterations (a second per iteration at FPS), then easing down to FAST, or to
    QUIET after an iteration that changed almost nothing."""
    if it <= SLOW_ITERS:
        return 1.0
    u = min(1.0, (it - SLOW_ITERS) / EASE_ITERS)
    pace = 1.0 - (1.0 - FAST) * u
    return min(pace, QUIET) if quiet else pace


class _Settle:
    """Whether a fit has settled (see STILL_GAIN), from the states of its iterations."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.gains: list[float] = []
        self.moves: list[float] = []
        self.still = 0  # iterations in a row that changed almost nothing

    def add(self, old: gmm.GMMState, new: gmm.GMMState) -> bool:
        gain = float(new.log_likelihood - old.log_likelihood)
        move = float(np.linalg.norm(new.means - old.means, axis=1).max())
        self.gains.append(gain)
        self.moves.append(move)
        still = abs(gain) < STILL_GAIN and move < STILL_MOVE * self.width
        self.still = self.still + 1 if still else 0
        return self.still >= STILL_ITERS

    @property
    def quiet(self) -> bool:
        """Whether the last iteration changed almost nothing (see QUIET)."""
        return bool(self.gains) and abs(self.gains[-1]) < QUIET_GAIN and \
            self.moves[-1] < QUIET_MOVE * self.width

    def sentence(self, who: str) -> str:
        gains = np.abs(self.gains[-STILL_ITERS:])
        moves = np.array(self.moves[-STILL_ITERS:]) / self.width
        return (f"{who} has converged: for the last {STILL_ITERS} iterations its mean "
                f"log-likelihood changed by at most {gains.max():.1e} per iteration and no "
                f"mean moved more than {100 * moves.max():.2g}% of the view")


def _race(em_iters: int, em_ll: float, adam_trace: list[tuple[int, float]]) -> str:
    """A sentence comparing EM's iterations with the Adam steps that matched its fit."""
    reached = [steps for steps, ll in adam_trace if ll >= em_ll - MATCH]
    head = f"EM converged in {em_iters} iterations; Adam "
    if reached:
        return head + (f"came within {MATCH:g} of its mean log-likelihood after {reached[0]} "
                       "steps.")
    steps = adam_trace[-1][0] if adam_trace else 0
    return head + f"is not within {MATCH:g} of its mean log-likelihood after {steps} steps."


# ------------------------------------------------------------------------------ the run


def _start(params: Params, ctx: RunContext) -> Any:
    """(x, picks, means0, init text), or a message Frame when the run cannot start."""
    try:
        x, _ = lab_data(params.dataset, params.n_points, params.noise, params.seed, ctx)
    except LabError as e:
        return message_frame("EM · no data", str(e))
    x = np.ascontiguousarray(x, dtype=np.float64)
    x.setflags(write=False)
    if params.init == "clicked":
        if ctx.picks is None or len(ctx.picks) == 0:
            return message_frame(
                "EM · place the initial means",
                "init = clicked: choose the Place tool and click where the initial means "
                "should go (one click per component), then run again.")
        picks = np.asarray(ctx.picks, dtype=np.float64).reshape(-1, 2)
        return x, picks, picks, f"at the {len(picks)} points you clicked"
    k = OVERFIT_K if params.overfit else params.k
    means0 = gmm.init_means(x, k, params.init, params.seed)
    init_text = ("by k-means++ (each next mean drawn with probability ∝ its squared "
                 "distance to the means already chosen)" if params.init == "k-means++"
                 else "at random data points")
    return x, None, means0, init_text


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of an EM run: the start, then an E-step and an M-step frame per iteration (one
    frame per iteration of Adam alone once EM has converged beside it)."""
    start = _start(params, ctx)
    if isinstance(start, Frame):
        yield start
        return
    x, picks, means0, init_text = start
    n, k = len(x), len(means0)
    reg, cov_type = params.reg_covar, params.covariance
    total = 1 + 2 * params.n_iter
    xlim, ylim = _limits(x, picks)
    grid = _Grid(xlim, ylim)
    n_distinct = len(np.unique(x, axis=0))
    compare = params.compare_adam
    if compare:
        xlabel = (f"iteration: one EM step or {params.adam_steps_per_iter} Adam steps "
                  "(E-step at the half)")
    else:
        xlabel = "EM iteration (E-step at the half)"

    state = gmm.initial_state(x, means0, reg, cov_type)
    dens = grid.density(state)
    plain = Points(x)

    adam: Any = None
    adam_state, adam_dens, adam_data = state, dens, plain

    def frame(step: int, it: float, title: str, caption: str, em_data: Points,
              pace: float, hold: float = 0.0) -> Frame:
        em_layers = _layers(dens, grid, params.density, em_data, state)
        if compare:  # a key under each title: solid ellipses are EM's, dashed ones Adam's
            em_layers["key"] = Points(np.zeros((0, 2)), series="EM")
        panels = [Panel(em_layers, title=f"EM ({cov_type} covariances)", xlim=xlim,
                        ylim=ylim, legend=compare or None)]
        metrics = {"mean log-likelihood/EM": state.log_likelihood}
        if compare:
            adam_layers = _layers(adam_dens, grid, params.density, adam_data, adam_state,
                                  dashed=True)
            adam_layers["key"] = Points(np.zeros((0, 2)), series="Adam")
            panels.append(Panel(adam_layers, title="Gradient ascent (Adam)", xlim=xlim,
                                ylim=ylim, legend=True))
            metrics["mean log-likelihood/Adam"] = adam_state.log_likelihood
        return Frame(step=step, title=title, panels=tuple(panels), total=total,
                     metrics=metrics, caption=caption, series=SERIES, x=it, xlabel=xlabel,
                     pace=pace, hold=hold)

    def take(new: Any) -> None:
        nonlocal params
        if new is None:
            return
        params = replace(params, density=new.density, adam_lr=new.adam_lr)
        if adam is not None:
            adam.lr = params.adam_lr

    cov_text = {"full": "the data's covariance", "diag": "the data's variances (diagonal)",
                "spherical": "the data's mean variance (circles)"}[cov_type]
    caption = (f"Start: K = {k} means placed {init_text}, equal weights π_k = 1/{k} and every "
               f"covariance set to {cov_text}; mean log-likelihood "
               f"{_fmt(state.log_likelihood)}.")
    take((yield frame(0, 0, f"EM · start · K = {k}", _join(
        caption, _start_notes(k, n, n_distinct, reg)), plain, 1.0, HOLD_START)))

    if compare:
        from genlab.engine.gmm_grad import GradientGMM

        adam = GradientGMM(x, state.weights, state.means, state.covariances, lr=params.adam_lr,
                           seed=params.seed, device=ctx.device, reg_covar=reg)

    resp, _ = gmm.e_step(x, state.weights, state.means, state.covariances)
    hard = resp.size > SOFT_LABEL_LIMIT
    colour_text = ("each point takes the colour of the component with the largest "
                   "responsibility" if hard else
                   "each point takes the colours of the components in proportion to its "
                   "responsibility")
    hard_text = " (n·K is too large to mix colours)" if hard else ""
    width = xlim[1] - xlim[0]
    em_settle, adam_settle = _Settle(width), _Settle(width)
    step = 0
    em_done = 0  # the iteration at which EM converged (it then stays put while Adam goes on)
    adam_done = not compare
    adam_trace: list[tuple[int, float]] = []  # (Adam steps, its log-likelihood)
    data = plain
    for it in range(1, params.n_iter + 1):
        title = f"EM · iteration {it} / {params.n_iter}"
        # Adam alone: its own stillness sets the pace; otherwise EM's
        pace = pace_of(it, (adam_settle if em_done else em_settle).quiet)
        notes: list[str] = []
        converged = False
        if not em_done:
            # ---- E-step: responsibilities under the current (old) parameters
            data = Points(x, **_colours(resp))
            caption = (f"E-step: {colour_text} γ_ik = π_k N(x_i | μ_k, Σ_k) / Σ_j π_j "
                       f"N(x_i | μ_j, Σ_j){hard_text}; the ellipses are still the old "
                       f"parameters (mean log-likelihood {_fmt(state.log_likelihood)}).")
            step += 1
            take((yield frame(step, it - 0.5, f"{title} · E-step", caption, data, pace)))

            # ---- M-step: new parameters from the responsibilities
            old = state
            w, m, c = gmm.m_step(x, resp, reg, cov_type,
                                 previous=(state.means, state.covariances))
            resp, ll = gmm.e_step(x, w, m, c)
            state = gmm.GMMState(w, m, c, ll)
            dens = grid.density(state)
            gain = ll - old.log_likelihood
            trend = ("EM never lowers it" if gain >= 0 else
                     f"a dip of {-gain:.1g} caused by ε: exact EM never lowers it")
            caption = (f"M-step: each component moves to the responsibility-weighted mean and "
                       f"covariance of the points, with weight π_k = N_k / N; mean "
                       f"log-likelihood {_fmt(old.log_likelihood)} → {_fmt(ll)} ({trend}).")
            notes = _notes(state, n, reg)
            settled = em_settle.add(old, state)
            converged = gain < CONVERGED_GAIN or settled
            if converged:
                em_done = it
                em_note = (em_settle.sentence("EM") if settled and gain >= CONVERGED_GAIN
                           else "EM has converged (the log-likelihood gained less than "
                                f"{CONVERGED_GAIN:.0e})")
            title += " · M-step" + (" · converged" if converged else "")
        else:
            caption = (f"Adam alone: EM converged at iteration {em_done} (mean log-likelihood "
                       f"{_fmt(state.log_likelihood)}) and stays put while gradient ascent "
                       "goes on.")
            title += f" · Adam alone (EM converged at {em_done})"
        if adam is not None and not adam_done:
            adam_old = adam_state
            adam_state = adam.step(params.adam_steps_per_iter)
            if not (np.isfinite(adam_state.log_likelihood)
                    and np.isfinite(adam_state.means).all()
                    and np.isfinite(adam_state.covariances).all()):
                raise LabError("Gradient ascent diverged: lower the Adam step size.")
            adam_resp, _ = gmm.e_step(x, adam_state.weights, adam_state.means,
                                      adam_state.covariances)
            adam_data = Points(x, **_colours(adam_resp))
            adam_trace.append((adam.n_steps_, adam_state.log_likelihood))
            adam_dens = grid.density(adam_state)
            notes.append(f"Adam after {adam.n_steps_} steps (step size {adam.lr:g}): mean "
                         f"log-likelihood {_fmt(adam_old.log_likelihood)} → "
                         f"{_fmt(adam_state.log_likelihood)}.")
            if em_done and not converged:  # a frame of Adam alone
                notes.append(_race(em_done, state.log_likelihood, adam_trace))
            settled = adam_settle.add(adam_old, adam_state)
            exact = abs(adam_state.log_likelihood - adam_old.log_likelihood) < CONVERGED_GAIN
            if exact or settled:
                adam_done = True
                why = (f"Adam has converged (its log-likelihood changed by less than "
                       f"{CONVERGED_GAIN:.0e})" if exact else adam_settle.sentence("Adam"))
                notes.append(why + (", while EM goes on." if not em_done else
                                    "." if converged else ", so the run ends here."))
        if converged:
            notes.append(em_note + (", so it stops here while Adam goes on." if not adam_done
                                    else ", so the run ends here."))
        last = (em_done and adam_done) or it == params.n_iter
        if last and not (em_done and adam_done):
            notes.append(f"The run has reached its {params.n_iter} iterations before "
                         + ("EM" if not em_done else "Adam")
                         + " converged: raise 'iterations' to go on.")
        step += 1
        take((yield frame(step, it, title, _join(caption, notes), data, pace,
                          HOLD_END if last else 0.0)))
        if last:
            return


LAB = LabInfo(
    name="em",
    title="Gaussian mixtures (EM)",
    description="Fit a Gaussian mixture by expectation-maximisation, one E-step and one "
                "M-step per frame.",
    params=Params,
    run=run,
    takes_data=True,
    uses_picks=True,
    fps=FPS,
    series=SERIES,
)
