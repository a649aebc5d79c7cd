"""The GAN lab's 2D run: training frames (GAN Lab's views plus D* and the 2D metrics) and,
in slow motion, one iteration stage by stage."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.engine.gan import PROBABILITY, mode_coverage
from genlab.engine.sample_distance import sliced_wasserstein
from genlab.labs.base import FrameGenerator, LabError, RunContext, sub_seed
from genlab.labs.data import data_or_message
from genlab.labs.frame import Frame, Panel, Points
from genlab.labs.gan import panels as P
from genlab.labs.gan.geometry import N_ARROWS, N_EVAL, N_FAKES, Plane
from genlab.labs.gan.params import (
    DATA,
    DISC,
    FLAT_ITERS,
    FLAT_RTOL,
    FLAT_WINDOW,
    FLOOR,
    GEN,
    HOLD_END,
    HOLD_START,
    LIVE,
    MIN_ITERS,
    RAMP_FRAMES,
    SERIES,
    SLOW,
    STAGE_HOLD,
    TRAIN_ENGINE,
    Params,
    who_learns,
)
from genlab.labs.pacing import Plateau, ramp
from genlab.labs.params import take_live
from genlab.labs.plane import signed

XLABEL = "training iteration"
SMOOTH = 0.15  # the sliced W2 is smoothed (EMA per frame) before the plateau test
SW_SEED = 5
SW_PROJ = 64  # sliced_wasserstein's default number of directions
FLAT_ON = (f"sliced W₂/{GEN}", "high-quality fraction")  # the metrics that must level off
D_GAP = "|D − D*|"  # (with D only learning, this one instead)
GAP_ATOL = 2e-3  # |D − D*| moving by less than this is flat however small it is


@dataclass(frozen=True, eq=False)
class Look:
    """A training frame's metrics, snapshot, panels and the caption's density sentence."""

    metrics: dict[str, float]
    snap: P.Snapshot
    panels: tuple[Panel, ...]
    sentence: str

LOSS_TEXT = {
    "non-saturating": "Non-saturating GAN: D minimises −log D(x) − log(1 − D(G(z))), G "
                      "minimises −log D(G(z)).",
    "minimax": "Minimax GAN: D minimises −log D(x) − log(1 − D(G(z))), G minimises "
               "log(1 − D(G(z))) (the saturating loss).",
    "least-squares": "Least-squares GAN: D minimises ½(f(x) − 1)² + ½f(G(z))², G minimises "
                     "½(f(G(z)) − 1)².",
    "wgan-gp": "WGAN-GP: the critic maximises E f(x) − E f(G(z)) − 10·E(|∇f(u)| − 1)² at "
               "points u = εx + (1 − ε)G(z), ε ~ U[0, 1]; G maximises E f(G(z)).",
    "hinge": "Hinge GAN: D minimises max(0, 1 − f(x)) + max(0, 1 + f(G(z))), G maximises "
             "E f(G(z)).",
}


def make_trainer(p: Params, x: np.ndarray, device: str) -> Any:
    """The engine's GANTrainer these parameters describe (imports torch)."""
    from genlab.engine.gan import GANTrainer

    return GANTrainer(x, loss=p.loss, latent_dim=p.latent_dim, hidden=p.hidden,
                      depth=p.depth, d_steps=p.d_steps, lr_d=p.lr_d, lr_g=p.lr_g,
                      seed=p.seed, device=device, latent=p.latent, opt_d=p.opt_d,
                      opt_g=p.opt_g, batch_size=p.batch_size)


def steps_for(frame_no: int, p: Params, done: int) -> int:
    """Iterations before the next frame: one at first, growing to steps_per_frame over
    RAMP_FRAMES frames, never past ``p.steps``."""
    return max(0, min(ramp(frame_no, p.steps_per_frame, RAMP_FRAMES), p.steps - done))


def total(p: Params, frame_no: int, done: int) -> int:
    n = frame_no + 1
    while done < p.steps:
        if frame_no >= RAMP_FRAMES:
            return n + -(-(p.steps - done) // p.steps_per_frame)
        done += steps_for(frame_no, p, done)
        frame_no, n = frame_no + 1, n + 1
    return n


class Run:
    """One 2D run: its data, plane, trainer, fixed draws and what its frames measured."""

    def __init__(self, p: Params, g: Plane, trainer: Any) -> None:
        self.p, self.g, self.tr = p, g, trainer
        self.z_show = trainer.latent_draws(N_FAKES, sub_seed(p.seed, 3))
        self.z_eval = trainer.latent_draws(N_EVAL, sub_seed(p.seed, 4))
        self.floor = (sliced_wasserstein(g.ref, g.other, seed=SW_SEED)
                      if g.other is not None else None)
        # sliced_wasserstein's directions for SW_SEED, and the reference's sorted projections
        # (computed once: the samples are as many as the reference, N_EVAL)
        theta = np.random.default_rng(SW_SEED).standard_normal((2, SW_PROJ))
        self.theta = theta / np.linalg.norm(theta, axis=0, keepdims=True)
        self.ref_sorted = np.sort(g.ref @ self.theta, axis=0)
        self.frame_no = 1
        self.smooth: dict[str, float] = {}
        self.regime: tuple = ()
        self.flat: dict[str, Plateau] = {}
        self.kde_seed = sub_seed(p.seed, 6)

    # ---------------------------------------------------------------------- measuring
    def sliced(self, x: np.ndarray) -> float:
        """sliced_wasserstein(x, ref, seed=SW_SEED) for x of the reference's size."""
        if len(x) != len(self.ref_sorted):
            return sliced_wasserstein(x, self.g.ref, seed=SW_SEED)
        d = np.sort(x @ self.theta, axis=0) - self.ref_sorted
        return float(np.sqrt((d * d).mean()))

    def measure(self, losses: np.ndarray) -> dict[str, float]:
        tr, g = self.tr, self.g
        out: dict[str, float] = {}
        if len(losses):
            out[f"loss/{DISC}"], out[f"loss/{GEN}"] = (float(v) for v in losses.mean(0))
        x = tr.generate(self.z_eval)
        if not np.isfinite(x).all():
            raise LabError(f"G sent its samples to infinity at iteration {tr.step_}: lower "
                           f"the learning rates (D {self.p.lr_d:.2g}, G {self.p.lr_g:.2g}).")
        out[f"sliced W₂/{GEN}"] = self.sliced(x)
        if self.floor is not None:
            out[f"sliced W₂/{FLOOR}"] = self.floor
        if g.modes is not None:
            covered, good = mode_coverage(x, *g.modes)
            out["modes covered"] = float(covered)
            out["high-quality fraction"] = good
        return out

    def converged(self, m: dict[str, float]) -> bool:
        """Whether the smoothed sliced W₂ (and, on the ring, the smoothed high-quality
        fraction) have levelled off (a Plateau each), never before MIN_ITERS; restarts when a
        live change starts a new regime."""
        p = self.p
        who = who_learns(p, self.tr.step_)
        regime = (p.lr_d, p.lr_g, p.d_steps, who, p.batch_size, p.steps_per_frame)
        if regime != self.regime:
            self.regime = regime
            window = max(FLAT_WINDOW, -(-FLAT_ITERS // p.steps_per_frame))
            self.flat = {k: Plateau(window, FLAT_RTOL) for k in FLAT_ON}
            self.flat[D_GAP] = Plateau(window, FLAT_RTOL, GAP_ATOL)
            self.smooth = {}
        flat = []
        for k in ((D_GAP,) if who == "D only" else FLAT_ON):
            if k in m:
                s = self.smooth.get(k, m[k])
                self.smooth[k] = s = s + SMOOTH * (m[k] - s)
                flat.append(self.flat[k].add(s))
        return bool(flat) and all(flat) and self.tr.step_ >= MIN_ITERS

    def metric_text(self, m: dict[str, float]) -> str:
        parts = []
        if "modes covered" in m:
            n_modes = len(self.g.modes[0]) if self.g.modes is not None else 0
            parts.append(f"{int(m['modes covered'])} of {n_modes} modes covered and "
                         f"{100 * m['high-quality fraction']:.0f}% of samples within 3σ of a "
                         "mode")
        sw = f"sliced W₂ to the data {signed(m[f'sliced W₂/{GEN}'])}"
        if self.floor is not None:
            sw += f" (floor {signed(self.floor)}: two independent draws of the data)"
        parts.append(sw)
        return f" Over {N_EVAL} samples: " + "; ".join(parts) + "."

    # ------------------------------------------------------------------------ frames
    def title(self) -> str:
        return (f"GAN · {self.p.loss} · {self.p.dataset} · iteration {self.tr.step_} / "
                f"{self.p.steps}")

    def look(self, losses: np.ndarray) -> Look:
        """The metrics and pictures of the model as it is now."""
        p, g, tr = self.p, self.g, self.tr
        m = self.measure(losses)
        s = P.snapshot(tr, g, self.z_show)
        more, sentence, p_g, d_star = P.density_panels(p.loss, g, tr, self.kde_seed, s.fakes)
        if p.loss == "wgan-gp":
            slope = np.linalg.norm(tr.critic_gradient(g.cells), axis=1).reshape(P.GRID, P.GRID)
            more = (*more, P.slope_panel(slope, g))
            sentence += (" Right: the critic's slope |∇f(x)|; the penalty pulls it to 1 (the "
                         "iso-line) at points between the data and G's samples.")
        if d_star is not None and g.p_data is not None:
            w = g.p_data + p_g  # E under m = (p_data + p_g)/2, where D and D* matter
            m[D_GAP] = float((w * np.abs(s.heat - d_star)).sum() / w.sum())
            sentence += (f" Mean |D − D*| under (p_data + p_g)/2: {signed(m[D_GAP])}.")
        return Look(m, s, (P.data_panel(p.loss, g, s), *more), sentence)

    def training_frame(self, look: Look, lead: str, last: bool) -> Frame:
        p, tr, m, s, panels = self.p, self.tr, look.metrics, look.snap, look.panels
        sentence_b = look.sentence
        who = {"D only": " Only D learns (G frozen).",
               "G only": " Only G learns (D frozen)."}.get(who_learns(p, tr.step_), "")
        caption = (lead + LOSS_TEXT[p.loss] + who + " "
                   + P.grad_sentence(p.loss, s.grad_norm, s.ns_norm)
                   + " Dashed: the latent grid warped by G (its manifold; each cell holds the "
                     "same latent mass)." + sentence_b + self.metric_text(m))
        n = self.frame_no
        return Frame(step=n, total=n + 1 if last else total(p, n, tr.step_),
                     title=self.title(), panels=panels, metrics=m, caption=caption,
                     series=SERIES, x=tr.step_, xlabel=XLABEL,
                     pace=max(1.0, SLOW - (SLOW - 1.0) * n / RAMP_FRAMES),
                     hold=HOLD_START if n == 1 else HOLD_END if last else 0.0)

    def stage_frame(self, stage: int, name: str, panels: tuple[Panel, ...], caption: str,
                    values: dict[str, float] | None = None,
                    metrics: dict[str, float] | None = None) -> Frame:
        self.frame_no += 1
        return Frame(step=self.frame_no, total=None,
                     title=f"{self.title()} · stage {stage} of 5: {name}", panels=panels,
                     caption=caption, series=SERIES, values=values or {},
                     metrics=metrics or {}, x=self.tr.step_, xlabel=XLABEL,
                     hold=STAGE_HOLD)

    def stages(self) -> Generator[Frame, Any, None]:
        """One iteration, stage by stage (five frames): G samples, D scores, the losses, D's
        update with G's gradients through the updated D, G's update."""
        p, g, tr = self.p, self.g, self.tr
        mode = TRAIN_ENGINE[who_learns(p, tr.step_)]
        heat0 = tr.discriminator(g.cells).reshape(P.GRID, P.GRID)
        t, n_lines, k = g.lines.shape
        manifold0 = tr.generate(g.lines.reshape(-1, k)).reshape(t, n_lines, 2)
        it = tr.step_detail(mode)
        if not (np.isfinite(it["loss_d"]) and np.isfinite(it["loss_g"])):
            raise LabError(f"A loss became NaN or infinite at iteration {tr.step_}: lower the "
                           "learning rates.")
        heat1 = tr.discriminator(g.cells).reshape(P.GRID, P.GRID)
        manifold1 = tr.generate(g.lines.reshape(-1, k)).reshape(t, n_lines, 2)
        b, real, fake = len(it["real"]), it["real"], it["fake"]
        prob = p.loss in PROBABILITY
        score = "D" if prob else "f"
        zp = P.latent_panel(it["z"], p.latent, True)
        d0 = P.d_heatmap(p.loss, heat0, g)
        d1 = P.d_heatmap(p.loss, heat1, g)
        title = P.d_title(p.loss)
        n = tr.step_

        # 1. G samples
        panel = P.plane({"D": d0, "manifold": P.manifold_layer(manifold0),
                         "fake": Points(fake, size=0.8, series=GEN)}, title, g)
        new = yield self.stage_frame(1, "G samples", (panel, zp),
                                     f"Iteration {n}, slow motion. Stage 1: a batch of {b} "
                                     f"latent draws z (right) goes through G, giving {b} "
                                     "fakes G(z) on G's manifold (dashed).")
        self.p = p = take_live(p, new, LIVE)
        # 2. D scores
        mr, mf = float(np.mean(it["d_real"])), float(np.mean(it["d_fake"]))
        scores = {f"batch mean {score}(x)/{DATA}": mr, f"batch mean {score}(x)/{GEN}": mf}
        panel = P.plane({"D": d0, **P.batch_layers(real, fake)}, title, g)
        new = yield self.stage_frame(2, "D scores", (panel, zp),
                                     f"Stage 2: D scores a batch of {b} real points and the "
                                     f"{b} fakes: mean {score}(real) = {signed(mr)}, mean "
                                     f"{score}(fake) = {signed(mf)} (the heatmap is D's "
                                     "output before this iteration's update).", scores)
        self.p = p = take_live(p, new, LIVE)
        # 3. the losses
        losses = {**scores, f"batch loss/{DISC}": it["loss_d"], f"batch loss/{GEN}": it["loss_g"]}
        new = yield self.stage_frame(3, "losses", (panel, zp),
                                     f"Stage 3: the losses on this batch. {LOSS_TEXT[p.loss]}"
                                     f" D's loss {signed(it['loss_d'])}, G's loss "
                                     f"{signed(it['loss_g'])}.", losses)
        self.p = p = take_live(p, new, LIVE)
        # 4. D's update, then G's gradients through the updated D
        norm = float(np.linalg.norm(it["grad"], axis=1).mean())
        zoom = P.zoom_for(norm)
        arrows = P.Arrows(fake[:N_ARROWS], g.arrow_ends(fake[:N_ARROWS],
                                                        it["grad"][:N_ARROWS], zoom),
                          series=P.GRAD, min_px=0.0)
        d_moved = ("D is frozen (G only)" if mode == "G" else
                   f"D took {p.d_steps} gradient step"
                   f"{'s' if p.d_steps > 1 else ''} on its loss (the heatmap is now the "
                   "updated D)")
        panel = P.plane({"D": d1, **P.batch_layers(real, fake), "gradients": arrows}, title, g)
        new = yield self.stage_frame(4, "gradients", (panel, zp),
                                     f"Stage 4: {d_moved}; then G's loss is differentiated "
                                     "through it. " + P.grad_sentence(p.loss, norm, zoom=zoom)
                                     .replace(f"on {N_ARROWS} of G's samples",
                                              f"on {min(N_ARROWS, b)} of the fakes"), losses)
        self.p = p = take_live(p, new, LIVE)
        # 5. G's update
        shift = float(np.linalg.norm(it["fake_after"] - fake, axis=1).mean())
        g_moved = ("G is frozen (D only): its fakes stay." if mode == "D" else
                   f"G took one step: the same z now give the fakes shown, moved by "
                   f"{signed(shift)} on average (grey: before).")
        panel = P.plane({"D": d1, "manifold": P.manifold_layer(manifold1),
                         "real": Points(real, size=0.6, alpha=0.5, series=DATA),
                         **P.moved(fake, it["fake_after"])}, title, g)
        m = self.measure(np.array([[it["loss_d"], it["loss_g"]]]))
        new = yield self.stage_frame(5, "update", (panel, zp),
                                     f"Stage 5: {g_moved} Next: a new batch."
                                     + self.metric_text(m), losses, m)
        self.p = take_live(p, new, LIVE)

    def apply_live(self) -> None:
        p, tr = self.p, self.tr
        tr.lr_d, tr.lr_g, tr.d_steps, tr.batch_size = p.lr_d, p.lr_g, p.d_steps, p.batch_size


def _lead(r: Run, done: int, moved: int, converged: bool, start: str) -> str:
    if r.frame_no == 1:
        return start
    if converged:
        what = ("|D − D*|" if who_learns(r.p, done) == "D only" else "sliced W₂" +
                (" and high-quality fraction" if r.g.modes is not None else ""))
        return (f"Levelled off after {done} iterations: the smoothed {what} moved "
                f"by at most {100 * FLAT_RTOL:.0f}% over the last two windows, so the run "
                "ends here. ")
    if done >= r.p.steps:
        return f"Done: {done} iterations (raise 'iterations' to go on). "
    if moved == 1 and r.p.steps_per_frame > 1:
        return f"Iteration {done} (early training, one iteration per frame): "
    return f"Iteration {done}: "


def run_2d(p: Params, ctx: RunContext) -> FrameGenerator:
    got = data_or_message(p.dataset, p.n_points, p.noise, p.seed, ctx, "GAN", 2)
    if isinstance(got, Frame):
        yield got
        return
    x, _ = got
    g = Plane(p, x)
    new = yield Frame(0, f"GAN · {p.loss} · {p.dataset}",
                      (P.plane({"real": Points(g.show_real, size=0.6, series=DATA)},
                               "the real data", g),),
                      caption=f"{len(x)} real points. Building the generator G and the "
                              "discriminator D (importing torch)…", series=SERIES)
    p = take_live(p, new, LIVE)
    from genlab.engine.device import resolve

    r = Run(p, g, make_trainer(p, x, resolve(ctx.device)))
    start = (f"Start: G and D are untrained MLPs ({p.depth} hidden layer"
             f"{'s' if p.depth > 1 else ''} of {p.hidden}), G's samples sit in a small blob. ")
    losses = np.zeros((0, 2))
    while True:
        if r.p.slow_motion and r.p.slow_from <= r.tr.step_ < r.p.steps:
            yield from r.stages()
            r.apply_live()
            continue
        done = r.tr.step_
        look = r.look(losses)
        converged = r.frame_no > 1 and r.converged(look.metrics)
        last = converged or done >= r.p.steps
        frame = r.training_frame(look, _lead(r, done, len(losses), converged, start), last)
        r.p = take_live(r.p, (yield frame), LIVE)
        r.apply_live()
        if last and r.tr.step_ >= r.p.steps or converged:
            return
        k = steps_for(r.frame_no, r.p, done)
        for at in (r.p.slow_from if r.p.slow_motion else 0,
                   r.p.train_from if r.p.train != "both" else 0):
            if done < at:  # a frame exactly where slow motion or a frozen player starts
                k = min(k, at - done)
        losses = r.tr.step(k, TRAIN_ENGINE[who_learns(r.p, done)])
        if len(losses) < k or not np.isfinite(losses).all():
            raise LabError(f"A loss became NaN or infinite at iteration {r.tr.step_}: lower "
                           f"the learning rates (D {r.p.lr_d:.2g}, G {r.p.lr_g:.2g}).")
        r.frame_no += 1
