"""The GAN lab's image mode: a DCGAN (``genlab.engine.images.gan``) on digits or sprites,
trained in slices between frames.  Samples from FIXED noise, so the images emerging are the
same draws getting better; their history (the same 8 noises at up to 8 iterations spread
over the run, one row each); D's and G's losses; and the image lab's quality measure: the
Fréchet distance of samples to held-out images over its floor, and the classes a classifier
sees among them."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, LabError, RunContext, serve_requests, sub_seed
from genlab.labs.frame import Curve, Frame, ImageGrid, Panel, message_frame
from genlab.labs.gan.params import DISC, GEN, LIVE, SERIES, Params
from genlab.labs.params import take_live

N_GRID, GRID_COLS = 64, 8  # samples from fixed noise
HISTORY_ROWS = 8  # rows in the history panel, spread evenly over the grids made so far
REFRESH = 100  # iterations between two sample grids
MEASURE_EVERY = 3  # grids between two quality measurements (the first at 300)
N_QUALITY = 256  # samples the quality is measured on
AVG = 0.02  # the loss curves' moving average (exponential, per iteration)
MODEL_FIELDS = ("image_data", "loss", "latent", "width", "opt_d", "opt_g", "d_steps", "seed")
FD, CLASSES = "Fréchet distance ÷ floor", "classes covered"


def to_unit(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) in [−1, 1] -> (n, H, W) or (n, H, W, 3) in [0, 1] (an ImageGrid's)."""
    x = np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return x[:, 0] if x.shape[1] == 1 else np.moveaxis(x, 1, -1)


class _Run:
    """A DCGAN in training and what was shown of it (kept in the store with it)."""

    def __init__(self, trainer: Any, seed: int) -> None:
        self.tr = trainer
        self.noise = trainer.latent_draws(N_GRID, sub_seed(seed, 7))
        self.grid: np.ndarray | None = None
        self.history: list[tuple[int, np.ndarray]] = []  # (iteration, 8 images)
        self.quality: list[tuple[int, float, int]] = []  # (iteration, FD / floor, classes)
        self.classifier: Any = None

    def refresh(self) -> None:
        self.grid = self.tr.sample(N_GRID, noise=self.noise)
        if not self.history or self.history[-1][0] != self.tr.step_:
            self.history.append((self.tr.step_, self.grid[:GRID_COLS]))

    def shown_history(self) -> list[tuple[int, np.ndarray]]:
        """At most HISTORY_ROWS rows spread evenly over the run, the first and latest kept."""
        k = len(self.history)
        idx = sorted({round(i) for i in np.linspace(0, k - 1, min(k, HISTORY_ROWS))})
        return [self.history[i] for i in idx]

    def measure(self, train: Any, held: Any, seed: int) -> None:
        from genlab.engine.images.quality import quality

        x = self.tr.sample(N_QUALITY, seed=sub_seed(seed, 8))
        q = quality(x, None, self.classifier, held, train)
        pred = self.classifier.predict(x)
        k = self.classifier.n_classes
        seen = int((np.bincount(pred, minlength=k) >= N_QUALITY / (4 * k)).sum())
        if self.quality and self.quality[-1][0] == self.tr.step_:
            self.quality.pop()
        self.quality.append((self.tr.step_, q["fd"] / max(q["floor"], 1e-12), seen))


def _ema(y: np.ndarray) -> np.ndarray:
    out = np.empty(len(y))
    acc = float(y[0]) if len(y) else 0.0
    for i, v in enumerate(y):
        acc = (1 - AVG) * acc + AVG * float(v) if i else float(v)
        out[i] = acc
    return out


def loss_panel(history: list[tuple[float, float]], total: int) -> Panel:
    """D's and G's losses against the iteration (moving averages, every point faint)."""
    if not history:
        return Panel({}, title="losses", xlim=(0, max(total, 1)), ylim=(0, 1),
                     equal_aspect=False, xlabel="training iteration")
    h = np.asarray(history, float)
    x = np.arange(1, len(h) + 1)
    d, g = _ema(h[:, 0]), _ema(h[:, 1])
    lo, hi = float(min(d.min(), g.min())), float(max(d.max(), g.max()))
    pad = 0.1 * max(hi - lo, 1e-3)
    return Panel({"D": Curve(x, d, series=DISC), "G": Curve(x, g, series=GEN)},
                 title="losses (moving averages)", xlim=(0, max(total, len(h))),
                 ylim=(lo - pad, hi + pad), equal_aspect=False, xlabel="training iteration")


def _open(p: Params) -> tuple[Any, Any]:
    from genlab.engine.images.data import open_image_data

    try:
        return open_image_data(p.image_data, "train"), open_image_data(p.image_data, "test")
    except ValueError as e:
        raise LabError(str(e)) from None


def make_image_trainer(p: Params, data: Any, device: str) -> Any:
    from genlab.engine.images.gan import ImageGANTrainer

    return ImageGANTrainer(data, loss=p.loss, width=p.width, d_steps=p.d_steps, lr_d=p.lr_d,
                           lr_g=p.lr_g, batch_size=p.batch_size, latent=p.latent,
                           opt_d=p.opt_d, opt_g=p.opt_g, seed=p.seed, device=device)


def _frame(r: _Run, p: Params, n: int, lead: str, status: str, last: bool) -> Frame:
    tr = r.tr
    assert r.grid is not None
    shown = r.shown_history()
    rows = np.concatenate([imgs for _, imgs in shown])
    its = ", ".join(str(s) for s, _ in shown)
    panels = (
        Panel({"samples": ImageGrid(to_unit(r.grid), cols=GRID_COLS)},
              title=f"{N_GRID} samples from fixed noise, iteration {tr.step_}", axes=False),
        Panel({"history": ImageGrid(to_unit(rows), cols=GRID_COLS)},
              title="the first 8 over training (rows: iterations " + its + ")", axes=False),
        loss_panel(tr.history_, p.steps))
    metrics: dict[str, float] = {}
    q = ""
    if r.quality and r.quality[-1][0] == tr.step_:
        _, ratio, seen = r.quality[-1]
        k = r.classifier.n_classes
        metrics = {FD: ratio, CLASSES: float(seen)}
        q = (f" Quality of {N_QUALITY} samples: Fréchet distance to held-out images "
             f"{ratio:.2f}× its floor (held-out against training images, in a small "
             f"classifier's features); the classifier puts at least {100 / (4 * k):.1f}% of "
             f"the samples in {seen} of the {k} classes.")
    caption = (lead + "Middle: the first 8 noises of the left grid at earlier iterations spread "
               "over the run, one row each (the newest at the bottom), so each column is one "
               "draw getting better." + q)
    return Frame(step=n, total=n + 1 if last else n + 1 + -(-max(0, p.steps - tr.step_)
                                                            // p.steps_per_frame),
                 title=f"GAN · DCGAN · {p.loss} · {tr.config['data']} · iteration {tr.step_}",
                 panels=panels, metrics=metrics, caption=caption, series=SERIES, x=tr.step_,
                 xlabel="training iteration", status=status, hold=2.0 if last else 0.0)


def run_images(p: Params, ctx: RunContext) -> FrameGenerator:
    try:
        train, held = _open(p)
    except LabError as e:
        yield message_frame("GAN · images · no data", str(e))
        return
    preview = train.get(np.arange(min(len(train), 48)))[0]
    grid = Panel({"images": ImageGrid(to_unit(preview), cols=8)},
                 title=f"{train.name}: training images", axes=False)
    new = yield Frame(0, f"GAN · DCGAN · {train.name}", (grid,), series=SERIES,
                      caption=f"{len(train)} training images of shape "
                              f"{'×'.join(map(str, train.shape))}; importing torch and building "
                              "the DCGAN's generator and discriminator…")
    p = take_live(p, new, LIVE)
    from genlab.engine.device import resolve
    from genlab.engine.images.quality import classifier_for
    from genlab.engine.training.store import STORE, model_key

    device = resolve(ctx.device)
    key = model_key("gan", {f: getattr(p, f) for f in MODEL_FIELDS}, train.name, device)
    if ctx.checkpoint:
        from genlab.engine.images.gan import ImageGANTrainer

        try:
            STORE.put(key, _Run(ImageGANTrainer.load(ctx.checkpoint, train, device), p.seed))
        except ValueError as e:
            yield message_frame("GAN · checkpoint", str(e))
            return
    r, _ = STORE.get_or_make(key, lambda: _Run(make_image_trainer(p, train, device), p.seed))
    tr = r.tr
    n, t0, s0 = 1, time.monotonic(), tr.step_
    r.refresh()
    while True:
        tr.lr_d, tr.lr_g, tr.d_steps = p.lr_d, p.lr_g, p.d_steps
        tr.config["batch_size"] = p.batch_size
        done = tr.step_ >= p.steps
        rate = (tr.step_ - s0) / max(time.monotonic() - t0, 1e-6)
        lead = (f"Trained: {tr.step_} iterations (raise 'iterations' to go on; the model is "
                "kept). " if done else
                f"A DCGAN learning {train.name}: iteration {tr.step_} of {p.steps}, "
                f"{p.d_steps} D step{'s' if p.d_steps > 1 else ''} per G step. ")
        status = f"step {tr.step_} / {p.steps}" + (f" · {rate:.0f} iterations/s"
                                                    if rate > 0 else "")
        frame = _frame(r, p, n, lead, status, done)
        notice = serve_requests(ctx, r.tr, "iteration")
        if notice:
            frame = dataclasses.replace(frame, notice=notice)
        p = take_live(p, (yield frame), LIVE)
        if done and tr.step_ >= p.steps:
            return
        k = min(p.steps_per_frame, p.steps - tr.step_)
        losses = tr.step(k)
        if len(losses) < k or not np.isfinite(losses).all():
            raise LabError(f"A loss became NaN or infinite at iteration {tr.step_}: lower the "
                           f"learning rates (D {p.lr_d:.2g}, G {p.lr_g:.2g}).")
        n += 1
        if tr.step_ % REFRESH < k or tr.step_ >= p.steps:
            r.refresh()
            if (tr.step_ // REFRESH) % MEASURE_EVERY == 0 or tr.step_ >= p.steps:
                if r.classifier is None:  # trained once per data set, then read from disk
                    p = take_live(p, (yield dataclasses.replace(
                        _frame(r, p, n, "Training the quality classifier for this data set "
                               "(once: it is kept on disk)… ", status, False), metrics={})),
                        LIVE)
                    n += 1
                    r.classifier = classifier_for(train.name, train)
                r.measure(train, held, p.seed)
