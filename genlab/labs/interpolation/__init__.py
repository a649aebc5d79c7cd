r"""Lab "interpolation": paths between latents, and which of them stay where a generator was
trained.

Two latents x₀, x₁ (and a third, x₂, for a subspace) drawn from the prior N(μ, Σ) in d
dimensions, joined by four paths: lerp (1 − t)x₀ + t x₁; slerp (the great-circle arc,
White 2016); the linear-combination transform of Bodin et al. (ICLR 2025) with the weights
w = (1 − t, t),

.. math:: y = w^\top X \sim \mathcal N(\alpha\mu, \beta\Sigma),\quad \alpha = \textstyle\sum_k
          w_k,\ \beta = \sum_k w_k^2,\qquad z = \mu + (y - \alpha\mu)/\sqrt\beta \sim
          \mathcal N(\mu, \Sigma);

and the lecture slide's normalisation :math:`w^\top X / w^\top w`, which divides by β instead
of √β and so leaves covariance Σ/β.  Along each path: its (whitened) norm over the annulus
(lerp's midpoint of two independent draws falls to ≈ √(d/2), the slide's rises to ≈ √(2d),
combine stays at √d) and its log-density under the prior (lerp's midpoint is MORE probable
than any sample, yet atypical).  With an image model (a checkpoint opened with File → Open
checkpoint, or an unconditional digits model trained here and kept in the store of trained
models under the images lab's key), every path is decoded by the model's deterministic
noise-to-image map (DDIM, Euler), one row per path, and a 5 × 5 grid of combinations of
x₀, x₁, x₂ (the subspace) is decoded too.  The contrast bars (pixel sd) average the decoded
midpoints of CONTRAST_PAIRS further pairs per path, beside their decoded endpoints (samples
of the model): lerp's washed-out middle as a number, computed.

Frames: the opening (numpy only, before torch is imported) moves a marker along the paths
with beats at the start and at t = ½, then holds the derivation; with a decoder, the model
trains in slices (decoded rows refreshed every few hundred steps, the loss in the metric
strip) and the decoded rows and grid are held at the end.  t, the grid's map, the sampler
steps and the training budget are live.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from genlab.engine import latent
from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext
from genlab.labs.frame import Frame, message_frame
from genlab.labs.interpolation import model as M
from genlab.labs.interpolation import panels as V
from genlab.labs.interpolation import settings as S
from genlab.labs.interpolation.settings import (
    COMBINE,
    LERP,
    LIVE,
    PATHS,
    SERIES,
    SLERP,
    SLIDE,
    Params,
    Prior,
)
from genlab.labs.params import take_live

__all__ = ["DIGITS_SHAPE", "LAB", "SERIES", "Params", "run"]

DIGITS_SHAPE = (1, 8, 8)
TYPICAL_SDS = 3.0  # a norm this many sds from the annulus's mean is not a typical one
MID_NORM, CENTROID, MID_CONTRAST = "norm at t = ½ ÷ √d", "mean of K latents: norm ÷ √d", \
    "decoded contrast at t = ½ (pixel sd)"


class _State:
    """What a run has drawn and computed (numpy), and its decoded images."""

    def __init__(self, p: Params, prior: Prior) -> None:
        self.prior = prior
        self.X = prior.draw(3, p.seed, 11)  # x₀, x₁ and x₂ (the subspace's third)
        self.centroid = prior.draw(p.k, p.seed, 12)
        self.t = np.linspace(0.0, 1.0, S.T_FINE)
        self.curves = S.paths(self.X[0], self.X[1], self.t, prior.mean)
        self.mid = V.midpoint_numbers(prior, self.X, self.centroid)
        self.rows: np.ndarray | None = None  # (len(PATHS), columns, C, H, W)
        self.grid: np.ndarray | None = None
        self.decoded_with: tuple | None = None
        self.data_contrast = float("nan")
        # more pairs, whose decoded midpoints' mean contrast is the bar (one image is noisy)
        pairs = prior.draw(2 * S.CONTRAST_PAIRS, p.seed, 13)
        self.pairs = (pairs[:S.CONTRAST_PAIRS], pairs[S.CONTRAST_PAIRS:])
        self.contrast: dict[str, float] = {}

    def values(self) -> dict[str, float]:
        root = math.sqrt(self.prior.d)
        out = {f"{MID_NORM}/{name}": self.mid[name] / root for name in PATHS}
        out[f"{CENTROID}/{LERP}"] = self.mid["centroid plain"] / root
        out[f"{CENTROID}/{COMBINE}"] = self.mid["centroid combine"] / root
        out.update({f"{MID_CONTRAST}/{name}": v for name, v in self.contrast.items()})
        return out


def _at(t: float) -> int:
    return int(round(float(t) * (S.T_FINE - 1)))


def _latent_frame(st: _State, p: Params, step: int, t: float, caption: str, total: int | None,
                  hold: float = 0.0) -> Frame:
    at = _at(t)
    panels = (V.plane_panel(st.prior, st.X, st.curves, at),
              V.norm_panel(st.prior, st.t, st.curves, at),
              V.log_density_panel(st.prior, st.t, st.curves, at))
    return Frame(step=step, title=_title(st.prior, p), panels=panels, total=total,
                 caption=caption, series=SERIES, values=st.values(), hold=hold)


def _title(prior: Prior, p: Params) -> str:
    what = "N(0, I)" if prior.standard else f"N(μ, Σ), m = {p.mean:g}, s = {p.spread:g}"
    return f"Interpolating latents · {what} · d = {prior.d}"


def _norms_at(st: _State, t: float) -> str:
    n = V.norms(st.prior, st.curves)
    at = _at(t)
    return ", ".join(f"{name} {n[name][at]:.2f}" for name in PATHS)


def _opening_caption(st: _State, t: float) -> str:
    d = st.prior.d
    n0, n1 = (float(np.linalg.norm(st.prior.whiten(x))) for x in st.X[:2])
    head = (f"Two latents x₀, x₁ from the prior in d = {d} dimensions: norms {n0:.2f} and "
            f"{n1:.2f}, where the prior's norms lie at {latent.chi_mean(d):.2f} ± "
            f"{latent.chi_std(d):.2f} (the annulus). ")
    at = f"At t = {t:.2f} the norms are: {_norms_at(st, t)}."
    if abs(t - 0.5) >= 1e-9:
        return head + at
    m = st.mid
    lead = (f" Lerp's midpoint falls to {m[LERP]:.2f} ≈ √(d/2) = {math.sqrt(d / 2):.2f}, "
            f"{m['inside sds']:.1f} standard deviations of the norm inside the annulus")
    if m["inside sds"] < TYPICAL_SDS:
        return head + at + lead + ": in so few dimensions that is still a typical norm."
    up = m["lerp log-density gain"]
    return (head + at + lead + f"; yet its log-density is {abs(up):.0f} nats "
            f"{'above' if up >= 0 else 'below'} x₀'s, and a draw of the prior is at least as "
            f"probable with chance {_chance(m['lerp as probable'])}: more probable than "
            "the samples, yet not like one." + _off_centre(st))


def _chance(p: float) -> str:
    return "below 1e-300" if p < 1e-300 else f"{p:.0e}"


def _off_centre(st: _State) -> str:
    """With μ ≠ 0, slerp (about the origin) leaves the annulus too."""
    if not np.any(st.prior.mean):
        return ""
    return (f" Slerp turns about the origin, not about μ: its midpoint's whitened norm is "
            f"{st.mid[SLERP]:.2f}, while combine's is {st.mid[COMBINE]:.2f}.")


def _derivation(st: _State) -> str:
    d, m = st.prior.d, st.mid
    return ("Why √β: y = wᵀX = Σ w_k x_k has mean αμ (α = Σ w_k) and covariance βΣ "
            "(β = Σ w_k² = wᵀw), since independent covariances add with weights w_k². So "
            "z = μ + (y − αμ)/√β is N(μ, Σ) again, for any weights. At t = ½, w = (½, ½): "
            f"β = ½. Lerp divides by α = 1 and keeps βΣ: norm {m[LERP]:.2f} ≈ √(d/2) = "
            f"{math.sqrt(d / 2):.2f}. The slide's wᵀX/wᵀw divides by β and leaves Σ/β: "
            f"{m[SLIDE]:.2f} ≈ √(2d) = {math.sqrt(2 * d):.2f}. Only √β restores the prior: "
            f"combine {m[COMBINE]:.2f}, slerp {m[SLERP]:.2f}, √d = {math.sqrt(d):.2f}. "
            f"The plain mean of K = {len(st.centroid)} latents has norm "
            f"{m['centroid plain']:.2f} ≈ √(d/K); combined, {m['centroid combine']:.2f}.")


def _opening(st: _State, p: Params) -> Generator[Frame, Any, Params]:
    """The marker along the paths, beats at the start and at ½, then the derivation."""
    for i, t in enumerate(S.SWEEP):
        hold = S.HOLD_START if i == 0 else S.HOLD_MID if abs(t - 0.5) < 1e-9 else 0.0
        new = yield _latent_frame(st, p, i, float(t), _opening_caption(st, float(t)),
                                  None, hold)
        p = take_live(p, new, LIVE)
    new = yield _latent_frame(st, p, len(S.SWEEP), 0.5, _derivation(st), None, S.HOLD_DERIVE)
    return take_live(p, new, LIVE)


def _decode(st: _State, trainer: Any, p: Params) -> None:
    """Decode the rows along each path and the subspace grid, unless already done with this
    model state and these settings."""
    key = (trainer.step_, p.columns, p.grid_map, p.sample_steps)
    if st.decoded_with == key:
        return
    t = np.linspace(0.0, 1.0, p.columns)
    along = S.paths(st.X[0], st.X[1], t, st.prior.mean)
    z = np.concatenate([along[name] for name in PATHS])
    grid = S.grid_latents(st.X, st.prior.mean, p.grid_map)
    a, b = st.pairs
    half = np.array([0.5])
    mids = [S.paths(x0, x1, half, st.prior.mean) for x0, x1 in zip(a, b, strict=True)]
    extra = np.concatenate([np.concatenate([m[name] for m in mids]) for name in PATHS] + [a, b])
    out = M.decode(trainer, np.concatenate([z, grid, extra]), p.sample_steps)
    n, g, m = len(z), len(grid), len(a)
    st.rows = out[:n].reshape(len(PATHS), p.columns, *out.shape[1:])
    st.grid = out[n:n + g]
    c = V.contrast(out[n + g:])
    st.contrast = {name: float(c[i * m:(i + 1) * m].mean()) for i, name in enumerate(PATHS)}
    st.contrast[S.SAMPLES] = float(c[len(PATHS) * m:].mean())
    st.decoded_with = key


def _decoded_caption(st: _State, trainer: Any, p: Params, lead: str) -> str:
    v = st.values()
    sampler = M.DETERMINISTIC[trainer.config["model"]].upper()
    spread = ", ".join(f"{name} {v[f'{MID_CONTRAST}/{name}']:.3f}" for name in PATHS)
    data = (f", the training images {st.data_contrast:.3f}"
            if np.isfinite(st.data_contrast) else "")
    c = st.contrast
    drop = 100.0 * (1.0 - c[LERP] / c[COMBINE])
    washed = (f"lerp's midpoints are {drop:.0f}% fainter than combine's" if drop >= 0.5
              else "lerp's midpoints are not fainter than combine's")
    beta = (S.grid_weights() ** 2).sum(1)
    d = st.prior.d
    grid = ("combined back to the prior" if p.grid_map == "combine" else
            f"as plain combinations wᵀX, whose norms run from √(βd) = "
            f"{math.sqrt(beta.min() * d):.2f} (β = {beta.min():g}) to "
            f"{math.sqrt(beta.max() * d):.2f} (β = {beta.max():g}, bottom right), against "
            f"√d = {math.sqrt(d):.2f}")
    return (lead + f" Each latent is decoded by the model's deterministic {sampler} map "
            f"({p.sample_steps} steps), so the first and last images of each row are the "
            f"model's samples from x₀ and x₁. Rows from the top: {', '.join(PATHS)}. "
            f"Contrast (pixel sd) at t = ½, mean of {len(st.pairs[0])} pairs: {spread}; the "
            f"prior's samples {c[S.SAMPLES]:.3f}{data}: {washed} (√(d/2) lies "
            f"{st.mid['inside sds']:.1f} norm sds inside the annulus). Grid: x₀ top left, x₁ "
            f"top right, x₂ bottom left, w = (1 − s − u, s, u), {grid}.")


def _decoded_frame(st: _State, trainer: Any, p: Params, step: int, lead: str,
                   total: int | None, loss: float | None, hold: float = 0.0) -> Frame:
    data = trainer.config["data"]
    panels = (V.rows_panel(st.rows, f"decoded along each path, t = 0 … 1 ({data})"),
              V.grid_panel(st.grid, S.GRID, f"subspace of x₀, x₁, x₂: {p.grid_map}"))
    metrics = {} if loss is None else {"training loss": loss}
    return Frame(step=step, title=_title(st.prior, p) + f" · {trainer.config['model']}",
                 panels=panels, total=total, caption=_decoded_caption(st, trainer, p, lead),
                 series=SERIES, values=st.values(), metrics=metrics,
                 x=float(trainer.step_), xlabel="training step", hold=hold)


def _with_model(st: _State, p: Params, ctx: RunContext, step: int) -> FrameGenerator:
    """Train (or open) the decoder, then decode: frames from ``step`` on."""
    yield _latent_frame(st, p, step, p.t, "Importing torch and building the image model…",
                        None)
    step += 1
    device = M.device_of(p, ctx)
    run = None
    if ctx.checkpoint:
        trainer = M.open_checkpoint(ctx.checkpoint, device)
    else:
        run = M.stored_run(p, device)
        trainer = run.trainer
        st.data_contrast = float(V.contrast(run.pool).mean())
    spf = p.steps_per_frame
    while True:
        done = run is None or trainer.step_ >= p.train_steps
        if done or trainer.step_ % S.REFRESH < spf or st.rows is None:
            _decode(st, trainer, p)
        lead = (f"Trained: {trainer.step_} Adam steps." if done else
                f"Training the digits model: step {trainer.step_} of {p.train_steps} (the "
                f"rows are decoded again every {S.REFRESH} steps).")
        left = 0 if done else -(-(p.train_steps - trainer.step_) // max(spf, 1))
        loss = float(np.mean(trainer.history_[-spf:])) if trainer.history_ else None
        new = yield _decoded_frame(st, trainer, p, step, lead, step + left + 1, loss,
                                   S.HOLD_END if done else 0.0)
        p = take_live(p, new, LIVE)
        spf = p.steps_per_frame
        step += 1
        if done and new is None:
            return
        if run is not None and trainer.step_ < p.train_steps:
            k = min(spf, p.train_steps - trainer.step_)
            losses = trainer.step(k)
            if len(losses) < k or not np.isfinite(losses).all():
                raise LabError(f"The loss became NaN or infinite at step {trainer.step_}.")


def _prior(p: Params, ctx: RunContext) -> Prior:
    if p.decoder == "none":
        return Prior.of(p.d, p.mean, p.spread)
    if ctx.checkpoint:
        from genlab.engine.training.checkpoint import read_meta

        try:
            shape = read_meta(ctx.checkpoint, "images")["config"]["shape"]
        except (ValueError, KeyError) as e:
            raise LabError(f"Cannot open {ctx.checkpoint}: {e}") from None
        return Prior.of(int(np.prod(shape)))
    return Prior.of(int(np.prod(DIGITS_SHAPE)))


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the paths between two latents, then (with a decoder) their images."""
    p = params
    try:
        prior = _prior(p, ctx)
    except LabError as e:
        yield message_frame("Interpolation · checkpoint", str(e))
        return
    st = _State(p, prior)
    p = yield from _opening(st, p)
    step = len(S.SWEEP) + 1
    if p.decoder == "none":
        new = yield _latent_frame(st, p, step, p.t, _opening_caption(st, p.t), None,
                                  S.HOLD_END)
        while new is not None:  # live t after the end
            p = take_live(p, new, LIVE)
            step += 1
            new = yield _latent_frame(st, p, step, p.t, _opening_caption(st, p.t), None)
        return
    yield from _with_model(st, p, ctx, step)


LAB = LabInfo(
    name="interpolation",
    title="Latent interpolation",
    description="Paths between Gaussian latents (lerp, slerp, and the linear-combination "
                "transform that maps wᵀX back to the prior) against the annulus and the "
                "prior's log-density, decoded into images by a digits model or a checkpoint, "
                "and a subspace grid of three latents.",
    params=Params,
    run=run,
    fps=S.FPS,
    series=SERIES,
    checkpoint_params=lambda path, params: M.checkpoint_params(path, params),
)
