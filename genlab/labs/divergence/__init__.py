"""Lab "divergence": one Gaussian fitted to a mixture by forward KL and by reverse KL.

Both fits start from the same Gaussian and take their steps together:

* forward KL(p‖q) = E_p[log p − log q]: Adam on a fresh minibatch x ~ p per step, i.e.
  maximum likelihood; q must put mass wherever p has some, so it covers every mode;
* reverse KL(q‖p) = E_q[log q − log p]: Adam on reparameterised samples x = μ + Lε,
  ε ~ N(0, I), scored by log p; q is punished wherever p is small, so it seeks one mode.

1D: the target density with both fitted Gaussians, the minibatches as rugs, and a second panel
with the two parameter paths in the (μ, σ) plane over the KL landscape, with the exact optima
as crosses over the fits' end dots (the moments for forward KL, L-BFGS on the quadrature
objective for reverse KL, from where the reverse fit is).  2D: the target density with each
fit as 1σ and 2σ ellipses and the paths of their means, and the densities along the line
through modes 1 and 2 (``panels.py``).  The modes are handles: dragging one moves the target
while both fits go on from where they are.  Metrics, against the optimisation step: KL both
ways, total variation and W1 (sliced W1 in 2D) of each fit, from ``genlab.engine.divergences``
(which holds all the numerics; this package stages frames).  The two fits and the exact
optima are the lab's named series (``params.SERIES``): one look each in every panel, label,
key and metric plot.

Pacing: the fits cross the picture within a few dozen steps, so the start is held, the first
SLOW_FRAMES steps are shown one per frame in slow motion, the steps per frame then ramp up to
``steps_per_frame``, and the run ends once both fits sit on their exact optima (averaged over
the last FLAT_STEPS steps, within MEAN_TOL standard deviations in the mean and LOG_TOL in log σ;
never before MIN_STEPS steps) or at ``steps``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from genlab.engine import divergences as dv
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.divergence.panels import RUG, TargetView, panels_1d, panels_2d
from genlab.labs.divergence.params import DIRECTIONS, FIT, LIVE, SERIES, Params
from genlab.labs.frame import Frame
from genlab.labs.pacing import ramp

OPTIMUM_NODES_2D = 41  # ε nodes per axis for the 2D reverse optimum drawn each frame
XLABEL = "optimisation step"
HOLD_START = 1.5  # seconds the start is held before the fits move
HOLD_END = 2.5  # seconds the last frame is held
SLOW_FRAMES = 40  # the first steps, one per frame ...
SLOW = 2.0  # ... each staying this many frame intervals ...
EASE_FRAMES = 20  # ... then the pace eases back to 1 over this many frames
RAMP_FRAMES = 30  # frames over which the steps per frame grow to steps_per_frame
FLAT_STEPS = 30  # converged: each fit's parameters, averaged over the last FLAT_STEPS steps,
MEAN_TOL = 0.05  # have a mean within MEAN_TOL standard deviations of its exact optimum's ...
LOG_TOL = 0.02  # ... and standard deviations within 2% of the optimum's
MIN_STEPS = 60  # a run never ends on a plateau before this many steps

__all__ = ["FLAT_STEPS", "LOG_TOL", "MEAN_TOL", "HOLD_END", "HOLD_START", "LAB", "MIN_STEPS",
           "RAMP_FRAMES", "RUG", "SERIES", "SLOW", "SLOW_FRAMES", "XLABEL", "Params",
           "frames_left", "pace_of", "run", "steps_for"]


def _target(p: Params) -> dv.Mixture:
    k = p.n_modes
    w = (p.w1, p.w2, p.w3)[:k]
    s = (p.std1, p.std2, p.std3)[:k]
    if p.dimension == "1d":
        m: Any = (p.mu1, p.mu2, p.mu3)[:k]
    else:
        m = ((p.mu1x, p.mu1y), (p.mu2x, p.mu2y), (p.mu3x, p.mu3y))[:k]
    return dv.Mixture.make(w, m, s)


def _target_key(p: Params) -> tuple[Any, ...]:
    return (p.n_modes, p.mu1, p.mu2, p.mu3, p.mu1x, p.mu1y, p.mu2x, p.mu2y, p.mu3x, p.mu3y,
            p.std1, p.std2, p.std3, p.w1, p.w2, p.w3)


def _start(p: Params) -> tuple[np.ndarray, np.ndarray]:
    if p.dimension == "1d":
        return np.array([p.init_mean]), np.array([p.init_std])
    return np.array([p.init_x, p.init_y]), p.init_std**2 * np.eye(2)


def _n(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


def _metric_names(dim: int) -> dict[str, str]:
    w1 = "W1" if dim == 1 else "sliced W1"
    return {"kl_pq": "KL(p‖q)", "kl_qp": "KL(q‖p)", "tv": "TV", "w1": w1}


def _metrics(target: dv.Mixture, fits: dict[str, dv.GaussianFit]) -> dict[str, float]:
    """``group/fit`` for each divergence: a curve per fit, in the fit's look."""
    names = _metric_names(target.dim)
    out: dict[str, float] = {}
    found = dv.divergences_many(target, [(fits[d].mean, fits[d].cov) for d in DIRECTIONS])
    divs = dict(zip(DIRECTIONS, found, strict=True))
    for attr, name in names.items():
        for d in DIRECTIONS:
            out[f"{name}/{FIT[d].name}"] = getattr(divs[d], attr)
    return out


def _describe(fit: dv.GaussianFit) -> str:
    if fit.dim == 1:
        return f"q = N({_n(fit.mean[0])}, {_n(fit.std)}²)"
    sd = np.sqrt(np.diag(fit.cov))
    return (f"q has mean ({_n(fit.mean[0])}, {_n(fit.mean[1])}) and stds ({_n(sd[0])}, "
            f"{_n(sd[1])})")


def _agree(fits: dict[str, dv.GaussianFit]) -> bool:
    f, r = fits["forward"], fits["reverse"]
    scale = float(np.sqrt(np.trace(f.cov) / f.dim))
    # loose enough for Adam's jitter at the default step size, tight enough to tell a mode
    # from the covering fit
    close_mean = float(np.linalg.norm(f.mean - r.mean)) < 0.2 * scale
    ratio = np.sqrt(np.trace(r.cov) / np.trace(f.cov))
    return close_mean and abs(ratio - 1.0) < 0.1


# ------------------------------------------------------------------------------ pacing


def steps_for(k: int, full: int) -> int:
    """Optimisation steps after frame ``k`` (0: the start): one each for the first
    SLOW_FRAMES frames, then ramping up to ``full`` over RAMP_FRAMES frames."""
    if k < SLOW_FRAMES:
        return 1
    return ramp(k - SLOW_FRAMES, full, RAMP_FRAMES)


def pace_of(k: int) -> float:
    """Frame intervals frame ``k`` stays: SLOW for the one-step frames, then easing to 1."""
    if k == 0:
        return 1.0
    if k <= SLOW_FRAMES:
        return SLOW
    return max(1.0, SLOW - (SLOW - 1.0) * (k - SLOW_FRAMES) / EASE_FRAMES)


def frames_left(k: int, done: int, steps: int, full: int) -> int:
    """Frames after frame ``k`` (at ``done`` steps) if the run goes on to ``steps``: an upper
    bound, since a plateau ends it sooner."""
    n = 0
    while done < steps:
        if k >= SLOW_FRAMES + RAMP_FRAMES:
            return n + -(-(steps - done) // max(1, full))
        done += steps_for(k, full)
        k, n = k + 1, n + 1
    return n


class _Levels:
    """Whether both fits have reached their exact optima (the crosses): averaged over the
    last FLAT_STEPS steps (Adam's jitter on minibatches averages out), each fit's mean is
    within MEAN_TOL of its optimum's, in units of the optimum's standard deviation, and its
    log standard deviations within LOG_TOL.  ``reset`` on a new regime (a mode moved, a new
    learning rate or batch size): the steps are counted afresh from there."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, at: int) -> None:
        self.since = at
        self.history: dict[str, list[np.ndarray]] = {d: [] for d in DIRECTIONS}
        self.off: dict[str, tuple[float, float]] = {}

    def record(self, fits: dict[str, dv.GaussianFit]) -> None:
        for d, f in fits.items():
            self.history[d].append(np.r_[f.mean, 0.5 * np.log(np.diag(f.cov))])

    def reached(self, done: int, best: dict[str, tuple[np.ndarray, np.ndarray]]) -> bool:
        if done < MIN_STEPS or done - self.since < FLAT_STEPS:
            return False
        out = True
        for d in DIRECTIONS:
            h = np.array(self.history[d][-FLAT_STEPS:]).mean(axis=0)
            mean, cov = best[d]
            sd = np.sqrt(np.diag(cov))
            k = len(mean)
            off_mean = float(np.abs(h[:k] - mean).max() / sd.mean())
            off_log = float(np.abs(h[k:] - np.log(sd)).max())
            self.off[d] = (off_mean, off_log)
            out &= off_mean <= MEAN_TOL and off_log <= LOG_TOL
        return out


def _levelled_text(levels: _Levels, done: int) -> str:
    (fm, fs), (rm, rs) = levels.off["forward"], levels.off["reverse"]
    return (f"Converged after {done} steps: averaged over the last {FLAT_STEPS} steps each fit "
            f"sits on its exact optimum (the crosses), the forward fit within {fm:.2f} σ in "
            f"its mean and {100 * fs:.1f}% in σ, the reverse fit within {rm:.2f} σ and "
            f"{100 * rs:.1f}%, so the run ends here.")


# ------------------------------------------------------------------------------ the run


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of both fits: the start, then a few steps of each per frame (module
    docstring)."""
    p = params
    dim = 1 if p.dimension == "1d" else 2
    target = _target(p)
    view = TargetView(target, p.landscape)
    mean0, cov0 = _start(p)
    fits = {d: dv.GaussianFit(d, mean0, cov0, lr=p.lr, n_samples=p.n_samples, seed=p.seed)
            for d in DIRECTIONS}

    def point(f: dv.GaussianFit) -> np.ndarray:
        return np.array([f.mean[0], f.std]) if dim == 1 else f.mean.copy()

    paths: dict[str, list[np.ndarray]] = {d: [point(f)] for d, f in fits.items()}
    nodes = None if dim == 1 else OPTIMUM_NODES_2D

    # the exact optima (mean, covariance), and where their crosses go
    best: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    optima: dict[str, np.ndarray] = {}

    def optimum(direction: str, start: tuple[np.ndarray, np.ndarray]) -> None:
        mean, cov = dv.optimal_gaussian(target, direction, start, nodes=nodes)
        best[direction] = (np.asarray(mean, float), np.asarray(cov, float).reshape(dim, dim))
        optima[direction] = (np.array([mean[0], math.sqrt(cov[0, 0])]) if dim == 1
                             else np.asarray(mean, float))

    def reverse_optimum() -> None:
        # from where the reverse fit is now: the local optimum of the basin it is in
        r = fits["reverse"]
        optimum("reverse", (r.mean, np.array([r.std]) if dim == 1 else r.cov))

    optimum("forward", (mean0, cov0))
    reverse_optimum()
    make = panels_1d if dim == 1 else panels_2d
    lab_title = "Forward vs reverse KL" + ("" if dim == 1 else " in the plane")
    start_text = (f"N({_n(p.init_mean)}, {_n(p.init_std)}²)" if dim == 1 else
                  f"a circle of radius {_n(p.init_std)} at ({_n(p.init_x)}, {_n(p.init_y)})")
    sample_text = "x = μ + σε" if dim == 1 else "x = μ + Lε"
    levels = _Levels()

    def frame(k: int, done: int, metrics: dict[str, float], caption: str, title: str,
              last: bool) -> Frame:
        left = 0 if last else frames_left(k, done, p.steps, p.steps_per_frame)
        return Frame(step=k, title=title, panels=make(p, view, fits, paths, optima),
                     total=k + 1 + left, metrics=metrics, caption=caption, series=SERIES,
                     x=done, xlabel=XLABEL, pace=pace_of(k),
                     hold=HOLD_START if k == 0 else HOLD_END if last else 0.0)

    caption = (f"Both fits start at {start_text}. Forward KL(p‖q) is minimised on samples "
               f"x ~ p (maximum likelihood); reverse KL(q‖p) on {sample_text}, ε ~ N(0, I), "
               "scored by log p. The crosses mark the exact optima: the moments (forward) and "
               "L-BFGS on the exact reverse KL from where the reverse fit is (reverse).")
    new = yield frame(0, 0, _metrics(target, fits), caption, f"{lab_title} · start", False)

    last_key = _target_key(p)
    regime = (p.lr, p.n_samples)
    done = 0
    k = 0
    while done < p.steps:
        moved = False
        if new is not None:
            p = dataclasses.replace(p, **{name: getattr(new, name) for name in LIVE})
            if _target_key(p) != last_key:
                last_key = _target_key(p)
                target = _target(p)
                view = TargetView(target, p.landscape)
                moved = True
                optimum("forward", (mean0, cov0))
            if dim == 1:
                view.set_landscape(p.landscape)
            for f in fits.values():
                f.lr, f.n_samples = p.lr, p.n_samples
            if moved or (p.lr, p.n_samples) != regime:  # a new regime: its level afresh
                regime = (p.lr, p.n_samples)
                levels.reset(done)
        n = min(steps_for(k, p.steps_per_frame), p.steps - done)
        for _ in range(n):
            for d, f in fits.items():
                try:
                    f.step(target)
                except dv.FitDiverged as e:
                    raise LabError(f"{e}: lower the learning rate (now {p.lr:g}).") from None
                paths[d].append(point(f))
            levels.record(fits)
        done += n
        k += 1
        reverse_optimum()
        fw, rv = fits["forward"], fits["reverse"]
        metrics = _metrics(target, fits)
        flat = levels.reached(done, best)
        kl_qp = metrics[f"KL(q‖p)/{FIT['reverse'].name}"]
        last = flat or done >= p.steps
        slow = (f" (slow motion: {n} step{'s' if n > 1 else ''} per frame)"
                if k <= SLOW_FRAMES + RAMP_FRAMES and n < p.steps_per_frame else "")
        story = (f"Forward KL(p‖q) = E_p[log p − log q], fitted on x ~ p (maximum "
                 f"likelihood), must cover every mode: {_describe(fw)}. Reverse KL(q‖p) = "
                 f"E_q[log q − log p], fitted on {sample_text} scored by log p, is punished "
                 f"wherever p is small: {_describe(rv)}, {_where(target, rv, kl_qp)}.")
        notes = []
        if flat:
            notes.append(_levelled_text(levels, done))
        elif done >= p.steps:
            notes.append(f"Done: {done} steps (raise 'steps' to go on).")
        if moved:
            notes.append("The target moved: both fits go on from where they are.")
        if _agree(fits):
            notes.append("The two fits agree: p is close to a single Gaussian.")
        lead = "" if last else f"Step {done}{slow}: "
        title = f"{lab_title} · step {done}" + (" · converged" if flat else "")
        new = yield frame(k, done, metrics, lead + " ".join([story, *notes]), title, last)
        if last:
            return


def _where(target: dv.Mixture, fit: dv.GaussianFit, kl_qp: float) -> str:
    """Where the reverse fit sits: on one mode, or spread over several (then say whether
    sitting on one mode alone would score a lower KL(q‖p), i.e. whether this is a poorer local
    optimum)."""
    size = float(np.sqrt(np.trace(fit.cov) / fit.dim))
    dist = np.linalg.norm(target.means - fit.mean, axis=1)
    k = int(np.argmin(dist / target.stds))
    on_mode = dist[k] < 0.5 * target.stds[k] and abs(size / target.stds[k] - 1.0) < 0.3
    if on_mode and len(target.weights) > 1:
        same = np.flatnonzero(np.linalg.norm(target.means - target.means[k], axis=1)
                              < 0.5 * target.stds)
        if len(same) > 1:
            names = " and ".join(str(i + 1) for i in same)
            return f"locked onto modes {names}, which coincide"
        return f"locked onto mode {k + 1}"
    covered = int(np.sum(dist < 1.5 * size + target.stds))
    if covered < 2:
        return "on its way"
    alone = [dv.reverse_kl(target, m, s if target.dim == 1 else s * s * np.eye(2))
             for m, s in zip(target.means, target.stds, strict=True)]
    best = int(np.argmin(alone))
    if alone[best] < kl_qp - 0.02:
        return (f"spread over {covered} modes: a local optimum of reverse KL, since q on mode "
                f"{best + 1} alone would score KL(q‖p) = {alone[best]:.2f} < {kl_qp:.2f} (start "
                "narrower or nearer a mode)")
    return f"spread over {covered} overlapping modes"


LAB = LabInfo(
    name="divergence",
    title="Forward vs reverse KL",
    description="Fit one Gaussian to a mixture by forward KL (mode covering) and by reverse KL "
                "(mode seeking), side by side; drag the modes apart.",
    params=Params,
    run=run,
    fps=20.0,
    series=SERIES,
)
