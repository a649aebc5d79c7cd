"""The images lab's pictures: sample grids, denoising paths beside the nearest training image,
the loss curve; and the device badge."""

from __future__ import annotations

import numpy as np

from genlab.engine.images.grid import to_unit
from genlab.labs.frame import Curve, ImageGrid, Panel
from genlab.labs.images.params import LOSS, LOSS_AVG

PATH_AT = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # progress from noise (0) to image (1)
PATH_ROWS = 4
AVG = 0.02  # the loss curve's moving average (exponential, per step)


def grid_panel(images: np.ndarray, cols: int, title: str) -> Panel:
    """(n, C, H, W) in [-1, 1] as one panel of tiles, without axes."""
    return Panel({"images": ImageGrid(to_unit(images), cols=cols)}, title=title, axes=False)


def path_panel(states: np.ndarray, nearest: np.ndarray, distances: np.ndarray,
               title: str) -> Panel:
    """Rows of x at PATH_AT for PATH_ROWS samples, then a blank tile and each sample's nearest
    training image: states (len(PATH_AT), r, C, H, W), nearest (r, C, H, W)."""
    t, r = states.shape[:2]
    blank = np.full_like(nearest[:1], -1.0)
    rows = []
    for i in range(r):
        rows += [states[k, i] for k in range(t)] + [blank[0], nearest[i]]
    del distances  # in the caption: the tiles cannot carry text
    return grid_panel(np.stack(rows), t + 2, title)


def moving_average(y: np.ndarray, a: float = AVG) -> np.ndarray:
    """Exponential moving average, started at the first value."""
    out = np.empty(len(y))
    acc = float(y[0]) if len(y) else 0.0
    for i, v in enumerate(y):
        acc = (1 - a) * acc + a * float(v) if i else float(v)
        out[i] = acc
    return out


def loss_panel(history: list[float], total: int) -> Panel:
    """The training loss against the step (every step, and its moving average)."""
    y = np.asarray(history, float)
    if len(y) == 0:
        return Panel({}, title="loss", xlim=(0, max(total, 1)), ylim=(0, 1),
                     equal_aspect=False, xlabel="training step")
    x = np.arange(1, len(y) + 1)
    stride = max(1, len(y) // 2000)  # a few thousand points are enough for a curve
    avg = moving_average(y)
    top = float(np.percentile(y, 99)) * 1.15 if len(y) > 20 else float(y.max()) * 1.15
    return Panel({LOSS: Curve(x[::stride], y[::stride], series=LOSS, width=1.0),
                  LOSS_AVG: Curve(x, avg, series=LOSS_AVG, width=2.5)},
                 title="training loss", xlim=(0, max(total, len(y))),
                 ylim=(0.0, max(top, 1e-3)), equal_aspect=False, xlabel="training step")


def nearest(samples: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, the pool image closest in L2 and its RMS distance per pixel: a
    memorisation check (a sample equal to a training image is a copy, not a new image)."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    b = pool.reshape(len(pool), -1).astype(np.float64)
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]
    i = np.argmin(d2, axis=1)
    rms = np.sqrt(np.maximum(d2[np.arange(len(a)), i], 0.0) / a.shape[1])
    return pool[i], rms


def device_badge(device: str) -> str:
    """What the run trains on, as a reader would say it."""
    if device.startswith("cuda"):
        import torch

        return f"CUDA: {torch.cuda.get_device_name(torch.device(device))}"
    if device == "mps":
        return "Apple MPS"
    return "CPU"
