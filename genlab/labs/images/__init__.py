"""Lab "images": diffusion and flow matching trained on images from the window.

The same engine as ``genlab train images`` (``genlab.engine.images.trainer.ImageTrainer``):
a class-conditional model with label dropout, trained in slices between frames; every few
hundred steps a grid of samples from FIXED noise (so the digits emerging are the same draws
getting better), one row of samples' denoising paths with each sample's nearest training
image beside it (a memorisation check), the loss curve with its moving average, and the
quality against a classifier trained once per data set: the Fréchet distance of samples to
held-out images over the floor (held-out against training images), and the fraction of
guided samples classified as the class asked for.  The sampler, its steps, guidance w and the
class are live.  A trained model is kept in the engine's store: rerunning with the same data,
model, width, seed and device continues it (Reset forgets it); File → Save/Open checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, LabError, LabInfo, RunContext, serve_requests
from genlab.labs.frame import Frame, message_frame
from genlab.labs.images.params import (
    ACCURACY,
    FD_RATIO,
    LIVE,
    MODEL_FIELDS,
    SERIES,
    Params,
)
from genlab.labs.images.views import (
    PATH_AT,
    PATH_ROWS,
    device_badge,
    grid_panel,
    loss_panel,
    nearest,
    path_panel,
)
from genlab.labs.params import take_live

__all__ = ["LAB", "Params", "make_trainer", "open_data"]

N_GRID_COLS = 6  # samples per class row
N_QUALITY = {"mlp": 200, "unet": 30}  # samples the quality is measured on (a U-Net is slow)
POOL = 4096  # training images searched for the nearest one (all of them for digits)
REFRESH = {"mlp": 200, "unet": 25}  # training steps between two sample grids


class _Run:
    """A model in training and what was computed with it (kept in the store with it)."""

    def __init__(self, trainer: Any, train: Any, held: Any, seed: int) -> None:
        self.trainer = trainer
        self.train, self.held = train, held
        rng = np.random.default_rng(seed)
        n = len(train)
        self.pool = train.get(np.sort(rng.choice(n, size=min(n, POOL), replace=False)))[0]
        self.quality: list[tuple[int, float, float]] = []  # (step, FD / floor, accuracy)
        self.classifier: Any = None
        self.shown: tuple | None = None  # what the last sample grid was made with
        self.grid = self.path = self.near = self.dist = None


def open_data(p: Params, ctx: RunContext) -> tuple[Any, Any]:
    """(training split, held-out split) of the chosen data; LabError with a one-line reason."""
    from genlab.engine.images import data as imdata

    try:
        if p.data == "file":
            if not ctx.images:
                raise LabError("Open your images first: File → Open image data (MNIST IDX, "
                               "an .npz, or a folder of PNG/JPEG files).")
            return (imdata.load_images(ctx.images, split="train"),
                    imdata.load_images(ctx.images, split="test"))
        return imdata.open_image_data(p.data, "train"), imdata.open_image_data(p.data, "test")
    except ValueError as e:
        raise LabError(str(e)) from None


def _device(p: Params, ctx: RunContext) -> str:
    from genlab.engine.device import resolve

    return resolve(ctx.device if p.device == "auto" else p.device)


def make_trainer(p: Params, device: str, data: Any = None) -> Any:
    """The ImageTrainer these parameters describe (``genlab train images`` builds it too)."""
    from genlab.engine.images.trainer import ImageTrainer

    if data is None:
        data = open_data(p, RunContext())[0]
    return ImageTrainer(data, model=p.model, width=p.width, conditional=p.conditional,
                        p_uncond=p.p_uncond, lr=p.lr, batch_size=p.batch_size, seed=p.seed,
                        device=device)


def _labels(p: Params, k: int, n_rows_max: int = 10) -> tuple[np.ndarray | None, int]:
    """Labels for the sample grid and its column count."""
    if k == 0:
        return None, 8
    if p.label >= 0:
        return np.full(N_GRID_COLS * 4, min(p.label, k - 1)), N_GRID_COLS
    rows = min(k, n_rows_max)
    return np.repeat(np.arange(rows), N_GRID_COLS), N_GRID_COLS


def _refresh(r: _Run, p: Params) -> None:
    """New sample grid, paths and nearest images from the fixed noise."""
    tr = r.trainer
    labels, _ = _labels(p, tr.n_classes)
    n = len(labels) if labels is not None else 64
    shape = tuple(tr.config["shape"])
    noise = np.random.default_rng([p.seed, 7]).standard_normal((n, *shape)).astype(np.float32)
    kw = {"guidance": p.guidance, "steps": p.sample_steps, "sampler": p.sampler,
          "seed": p.seed}
    r.grid = tr.sample(n, labels=labels, noise=noise, **kw)
    lab = labels[:: max(1, n // PATH_ROWS)][:PATH_ROWS] if labels is not None else None
    out, r.path = tr.sample(PATH_ROWS, labels=lab, noise=noise[:: max(1, n // PATH_ROWS)]
                            [:PATH_ROWS], path_at=PATH_AT, **kw)
    r.near, r.dist = nearest(out, r.pool)
    r.shown = (tr.step_, p.guidance, p.sample_steps, p.sampler, p.label)


def _measure(r: _Run, p: Params) -> None:
    """Quality of N_QUALITY guided samples against the classifier (labelled data only)."""
    tr = r.trainer
    if tr.n_classes < 2 or r.classifier is None:
        return
    from genlab.engine.images.quality import quality

    n = N_QUALITY[tr.config["backbone"]]
    labels = np.arange(n) % tr.n_classes
    x = tr.sample(n, labels=labels, guidance=p.guidance, steps=p.sample_steps,
                  sampler=p.sampler, seed=p.seed + 1)
    q = quality(x, labels, r.classifier, r.held, r.train)
    ratio = q["fd"] / max(q["floor"], 1e-12)
    if r.quality and r.quality[-1][0] == tr.step_:
        r.quality.pop()
    r.quality.append((tr.step_, ratio, q["accuracy"]))


def _frame(r: _Run, p: Params, step_no: int, total: int, lead: str, badge: str,
           rate: float) -> Frame:
    tr = r.trainer
    labels, cols = _labels(p, tr.n_classes)
    what = f"w = {p.guidance:g}, {p.sample_steps} {p.sampler.upper()} steps"
    panels = [grid_panel(r.grid, cols, f"samples from fixed noise ({what})"),
              path_panel(r.path, r.near, r.dist, "noise → sample │ nearest training image"),
              loss_panel(tr.history_, p.train_steps)]
    metrics: dict[str, float] = {}
    q = ""
    if r.quality and r.quality[-1][0] == tr.step_:
        _, ratio, acc = r.quality[-1]
        # two plots: a ratio that starts near 30 and a fraction in [0, 1] share no axis
        metrics = {f"Fréchet distance/{FD_RATIO}": ratio, f"guided samples/{ACCURACY}": acc}
        q = (f" Quality: Fréchet distance to held-out images {ratio:.2f}× its floor (held-out "
             f"against training images); {100 * acc:.0f}% of guided samples classified as "
             "the class asked for.")
    near = (f" Nearest training images are {float(np.mean(r.dist)):.2f} away (RMS per pixel, "
            "in [−1, 1] units): a copy would be 0.")
    caption = lead + q + near
    left = max(0, p.train_steps - tr.step_)
    status = (f"{badge} · step {tr.step_} / {p.train_steps}"
              + (f" · {rate:.0f} steps/s · ETA {left / rate:.0f} s" if rate > 0 and left
                 else ""))
    return Frame(step=step_no, title=f"Images · {tr.config['data']} · {tr.config['model']}"
                 f" · step {tr.step_}", panels=tuple(panels), total=total, caption=caption,
                 metrics=metrics, x=tr.step_, xlabel="training step", series=SERIES,
                 status=status)


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of an image model training: samples, paths, loss and quality."""
    p = params
    try:
        train, held = open_data(p, ctx)
    except LabError as e:
        yield message_frame("Images · no data", str(e))
        return
    preview = train.get(np.arange(min(len(train), 48)))[0]
    yield Frame(0, f"Images · {train.name}", (grid_panel(preview, 8, f"{train.name}: "
                                                         "training images"),),
                caption=f"{len(train)} training and {len(held)} held-out images of shape "
                        f"{'×'.join(map(str, train.shape))}; importing torch and building the "
                        "model…", series=SERIES)
    from genlab.engine.training.store import STORE, model_key

    device = _device(p, ctx)
    badge = device_badge(device)
    key = model_key("images", {f: getattr(p, f) for f in MODEL_FIELDS}, train.name, device)
    if ctx.checkpoint:
        from genlab.engine.images.trainer import ImageTrainer

        try:
            tr = ImageTrainer.load(ctx.checkpoint, data=train, device=device)
        except ValueError as e:
            yield message_frame("Images · checkpoint", f"{e}")
            return
        STORE.put(key, _Run(tr, train, held, p.seed))
    try:
        r, _made = STORE.get_or_make(
            key, lambda: _Run(make_trainer(p, device, train), train, held, p.seed))
    except ValueError as e:  # a device that is not here, a data set without classes
        yield message_frame("Images · model", f"{e}")
        return
    tr = r.trainer
    tr.lr = p.lr
    if tr.n_classes >= 2 and r.classifier is None:
        yield Frame(1, f"Images · {train.name}", (grid_panel(preview, 8, "training images"),),
                    caption="Training the quality classifier for this data set (once: it is "
                            "kept on disk)…", series=SERIES, status=badge)
        from genlab.engine.images.quality import classifier_for

        r.classifier = classifier_for(train.name, train)
    refresh = REFRESH[tr.config["backbone"]]
    frame_no, t0, s0 = 2, time.monotonic(), tr.step_
    _refresh(r, p)
    _measure(r, p)
    while True:
        done = tr.step_ >= p.train_steps
        lead = (f"Trained: {tr.step_} Adam steps. Move w, the class, the sampler or its steps "
                "to sample again (the model is kept)." if done else
                f"Training {tr.config['model']} on {train.name}: Adam step {tr.step_} of "
                f"{p.train_steps}, loss {tr.history_[-1] if tr.history_ else float('nan'):.4f}; "
                "the samples come from the same noise every time, so the images emerging are "
                "the same draws getting better.")
        rate = (tr.step_ - s0) / max(time.monotonic() - t0, 1e-6)
        frame = _frame(r, p, frame_no, frame_no + 1 + -(-max(0, p.train_steps - tr.step_)
                                                          // p.steps_per_frame),
                       lead, badge, rate)
        notice = serve_requests(ctx, r.trainer)
        if notice:
            frame = dataclasses.replace(frame, notice=notice)
        new = yield frame
        p = take_live(p, new, LIVE)
        tr.lr = p.lr
        if done and new is None:
            return
        if not done:
            k = min(p.steps_per_frame, p.train_steps - tr.step_)
            losses = tr.step(k)
            if len(losses) < k or not np.isfinite(losses).all():
                raise LabError(f"The loss became NaN or infinite at step {tr.step_}: lower "
                               f"the learning rate (now {p.lr:.2g}).")
        changed = r.shown is None or r.shown[1:] != (p.guidance, p.sample_steps, p.sampler,
                                                     p.label)
        if changed or tr.step_ % refresh < p.steps_per_frame or tr.step_ >= p.train_steps:
            _refresh(r, p)
            if changed or tr.step_ >= p.train_steps or (tr.step_ // refresh) % 3 == 0:
                _measure(r, p)
        frame_no += 1


LAB = LabInfo(
    name="images",
    title="Image models",
    description="Diffusion and flow matching trained on digits, sprites or your own images: "
                "samples from fixed noise as they emerge, guidance, denoising paths, nearest "
                "training images and a classifier's quality score.",
    params=Params,
    run=run,
    fps=10.0,
    series=SERIES,
    make_trainer=lambda p, device: make_trainer(p, device),
    checkpoint_params=lambda path, params: checkpoint_params(path, params),
)


def checkpoint_params(path: str, params: Params) -> Params:
    """The lab's parameters with the model fields a checkpoint was made with."""
    from genlab.engine.training.checkpoint import read_meta
    from genlab.labs.params import replace

    cfg = read_meta(path, "images")["config"]
    data = cfg["data"] if cfg["data"] in ("digits", "sprites") else "file"
    return replace(params, data=data, model=cfg["model"], width=int(cfg["width"]),
                   conditional=bool(cfg["conditional"]), p_uncond=float(cfg["p_uncond"]),
                   batch_size=int(cfg["batch_size"]), seed=int(cfg["seed"]))

