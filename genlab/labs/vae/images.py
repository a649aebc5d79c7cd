"""The VAE lab's image mode: a convolutional VAE on digits or sprites, trained in slices
between frames and kept in the store of trained models (``genlab.engine.images.vae``)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from genlab.labs.base import FrameGenerator, LabError, RunContext, serve_requests
from genlab.labs.frame import Ellipses, Frame, ImageGrid, Labels, Panel, Points, message_frame
from genlab.labs.params import take_live
from genlab.labs.plane import signed
from genlab.labs.vae.params import (
    ELBO,
    IMAGE_BOUND,
    IMAGE_TERMS,
    KL,
    LIVE,
    PRIOR,
    RECON,
    SERIES,
    Params,
)

MODEL_FIELDS = ("image_data", "image_latent", "width", "seed")  # what the store keys on
N_VIEW = {"digits": 360, "sprites": 600}  # held-out images encoded for the maps and factors
N_EVAL = 256  # held-out images the ELBO's terms are measured on
GRID_SIDE = 10  # the decoded latent grid: GRID_SIDE² tiles over [-GRID_Z, GRID_Z]²
GRID_Z = 2.0
TRAVERSE = np.linspace(-2.5, 2.5, 9)
MAP_LIM = 4.0
UNUSED_KL = 0.05  # nats: a latent coordinate below this carries nothing
FACTORS = ("shape", "scale", "x position", "y position")  # sprite factors matched to z


def _unit(images: np.ndarray) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] -> (n, H, W) in [0, 1] (the ImageGrid layout)."""
    from genlab.engine.images.grid import to_unit

    return to_unit(images)


def _grid(images: np.ndarray, cols: int, title: str) -> Panel:
    return Panel({"images": ImageGrid(_unit(images), cols=cols)}, title=title, axes=False)


class _View:
    """The held-out images the pictures use, fixed for the run: an evaluation batch, the
    images encoded for the latent map (with classes and, for sprites, factors), the images
    reconstructed, and the latent draws of the samples."""

    def __init__(self, held: Any, data: str, latent: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 41])
        n = min(len(held), N_VIEW[data])
        idx = np.sort(rng.choice(len(held), size=n, replace=False))
        self.x, self.y = held.get(idx)
        self.factors: np.ndarray | None = None
        if hasattr(held, "factors"):
            from genlab.engine.images.sprites import factor_values

            v = factor_values(held.factors(idx))
            self.factors = v[:, [0, 1, 3, 4]]  # shape, scale, pos_x, pos_y (FACTORS)
        self.eval = self.x[:N_EVAL]
        self.shown = self.x[rng.choice(n, size=16, replace=False)]
        self.z = rng.standard_normal((48, latent))
        self.class_names = tuple(held.class_names)


def _match(mu: np.ndarray, factors: np.ndarray) -> list[tuple[str, float]]:
    """For each latent coordinate, the sprite factor it follows most and how closely: |r|
    (Pearson) for scale and position, η (the correlation ratio: the share of the
    coordinate's spread explained by the class, square-rooted) for the shape."""
    out = []
    for j in range(mu.shape[1]):
        m = mu[:, j]
        scores = []
        for k, name in enumerate(FACTORS):
            f = factors[:, k]
            if name == "shape":
                total = float(m.var())
                between = sum((f == c).mean() * (m[f == c].mean() - m.mean()) ** 2
                              for c in np.unique(f))
                scores.append(math.sqrt(between / total) if total > 0 else 0.0)
            else:
                sd = float(m.std() * f.std())
                scores.append(abs(float(np.mean((m - m.mean()) * (f - f.mean())))) / sd
                              if sd > 0 else 0.0)
        k = int(np.argmax(scores))
        out.append((FACTORS[k], float(scores[k])))
    return out


def _panels(tr: Any, v: _View) -> tuple[list[Panel], str]:
    """The pictures of the model now, and the caption's sentence about its latent."""
    recon = tr.reconstruct(v.shown)
    pairs = np.concatenate([v.shown[:8], recon[:8], v.shown[8:], recon[8:]])
    panels = [_grid(pairs, 8, "held-out images (rows 1, 3) and their reconstructions "
                              "f(μ(x)) (rows 2, 4)"),
              _grid(tr.decode(v.z), 8, f"samples: decoder means f(z) of {len(v.z)} fixed "
                                         "draws z ~ N(0, I)")]
    mu, _ = tr.encode(v.x)
    kl = tr.kl_per_dim(v.x)
    if tr.latent_dim == 2:
        labels = v.y
        centres = np.array([np.median(mu[labels == c], axis=0) for c in np.unique(labels)])
        names = tuple(v.class_names[c] for c in np.unique(labels))
        lim = (-MAP_LIM, MAP_LIM)
        panels.append(Panel({
            "prior": Ellipses([[0.0, 0.0]], [np.eye(2)], labels=[7], series=PRIOR),
            "codes": Points(np.clip(mu, -MAP_LIM, MAP_LIM), labels=labels, size=0.9),
            "classes": Labels(centres, names),
        }, title=f"latent map: μ(x) of {len(mu)} held-out images, by class", xlim=lim,
            ylim=lim, xlabel="z₁", ylabel="z₂", legend=True))
        t = np.linspace(-GRID_Z, GRID_Z, GRID_SIDE)
        zz = np.stack(np.meshgrid(t, t[::-1]), axis=-1).reshape(-1, 2)  # z₂ down the rows
        panels.append(_grid(tr.decode(zz), GRID_SIDE, f"decoded grid: f(z), z₁ (across) and "
                                                      f"z₂ (up) in [−{GRID_Z:g}, {GRID_Z:g}]"))
        used = "; ".join(f"z{j + 1} {kl[j]:.2f}" for j in range(2))
        return panels, f" KL per coordinate (nats): {used}."
    order = np.argsort(-kl)
    base = mu[:1].repeat(len(TRAVERSE), axis=0)
    rows = []
    for j in order:
        z = base.copy()
        z[:, j] = TRAVERSE
        rows.append(tr.decode(z))
    panels.append(_grid(np.concatenate(rows), len(TRAVERSE),
                        f"traversals: row k moves one coordinate from {TRAVERSE[0]:g} to "
                        f"{TRAVERSE[-1]:g}, the rest at μ of one image (rows by KL)"))
    words = []
    matched = _match(mu, v.factors) if v.factors is not None else None
    for r, j in enumerate(order):
        if kl[j] < UNUSED_KL:
            words.append(f"row {r + 1} z{j + 1} unused (KL {kl[j]:.2f})")
        elif matched is not None:
            name, score = matched[j]
            words.append(f"row {r + 1} z{j + 1} (KL {kl[j]:.2f}) follows {name} "
                         f"({'η' if name == 'shape' else '|r|'} = {score:.2f})")
        else:
            words.append(f"row {r + 1} z{j + 1} (KL {kl[j]:.2f})")
    return panels, " Traversal rows: " + "; ".join(words) + "."


def run_images(p: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of the image VAE: the data first (before torch), then the model training."""
    from genlab.engine.images import data as imdata

    train, held = imdata.open_image_data(p.image_data, "train"), \
        imdata.open_image_data(p.image_data, "test")
    preview = train.get(np.arange(min(len(train), 48)))[0]
    yield Frame(0, f"VAE · {train.name}", (_grid(preview, 8, f"{train.name}: training "
                                                              "images"),),
                caption=f"{len(train)} training and {len(held)} held-out images of shape "
                        f"{'×'.join(map(str, train.shape))}; building the VAE…", series=SERIES)

    from genlab.engine.device import resolve
    from genlab.engine.images.vae import ImageVAETrainer
    from genlab.engine.training.store import STORE, model_key

    device = resolve(ctx.device if p.device == "auto" else p.device)
    key = model_key("vae", {f: getattr(p, f) for f in MODEL_FIELDS}, train.name, device)
    if ctx.checkpoint:
        try:
            STORE.put(key, ImageVAETrainer.load(ctx.checkpoint, data=train, device=device))
        except ValueError as e:
            yield message_frame("VAE · checkpoint", str(e))
            return
    try:
        tr, _ = STORE.get_or_make(key, lambda: ImageVAETrainer(
            train, latent_dim=p.image_latent, width=p.width, beta=p.beta, lr=p.lr,
            batch_size=p.batch_size, seed=p.seed, device=device))
    except ValueError as e:  # a device that is not here
        yield message_frame("VAE · model", str(e))
        return
    v = _View(held, p.image_data, tr.latent_dim, p.seed)
    frame_no = 1
    while True:
        tr.beta, tr.lr, tr.batch_size = p.beta, p.lr, p.batch_size
        te = tr.terms(v.eval, seed=p.seed)
        if not all(math.isfinite(x) for x in te.values()):
            raise LabError(f"the VAE diverged at step {tr.step_}: lower the learning rate "
                           f"(now {p.lr:.2g}).")
        panels, latent_text = _panels(tr, v)
        done = tr.step_ >= p.steps
        lead = (f"Trained: {tr.step_} Adam steps (raise 'steps' to go on)." if done else
                f"Adam step {tr.step_} of {p.steps} on E log p(x|z) − β·KL, β = {p.beta:.3g}"
                " (per-pixel Bernoulli likelihood of the intensities).")
        caption = (f"{lead} Held-out ELBO {signed(te['elbo'], 1)} = E log p(x|z) "
                   f"{signed(te['reconstruction'], 1)} − KL {te['kl']:.2f} nats per image."
                   + latent_text)
        frame = Frame(step=frame_no, title=f"VAE · {train.name} · {tr.latent_dim}D latent · "
                                           f"step {tr.step_}", panels=tuple(panels),
                      total=frame_no + 1 + -(-max(0, p.steps - tr.step_) // p.steps_per_frame),
                      caption=caption, series=SERIES, x=tr.step_, xlabel="training step",
                      metrics={f"{IMAGE_BOUND}/{ELBO}": te["elbo"],
                               f"{IMAGE_TERMS}/{RECON}": te["reconstruction"],
                               f"{IMAGE_TERMS}/{KL}": te["kl"]},
                      hold=2.0 if done else 0.0, status=device)
        notice = serve_requests(ctx, tr)
        if notice:
            frame = dataclasses.replace(frame, notice=notice)
        p = take_live(p, (yield frame), LIVE)
        if done:
            return
        losses = tr.step(min(p.steps_per_frame, p.steps - tr.step_))
        if len(losses) and not np.isfinite(losses[-1]):
            raise LabError(f"the VAE's loss became NaN or infinite at step {tr.step_}: lower "
                           f"the learning rate (now {p.lr:.2g}).")
        frame_no += 1
