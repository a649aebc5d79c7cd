"""The image model that decodes latents: a checkpoint (File → Open checkpoint) or an
unconditional digits model trained here, shared with the images lab through the store of
trained models (the same key as the images lab's model with those fields), and decoded with
its deterministic noise-to-image map (``ImageTrainer.sample(noise=...)``: DDIM for diffusion,
Euler for flow).  torch is imported only here, and only once a run needs a model."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genlab.labs.base import LabError, RunContext
from genlab.labs.interpolation.settings import Params

DETERMINISTIC = {"diffusion": "ddim", "flow": "euler"}


def image_params(p: Params) -> Any:
    """The images lab's parameters of the digits model this lab trains (unconditional: the
    latent is the only input that varies)."""
    from genlab.labs import images

    return dataclasses.replace(images.Params(), data="digits", model=p.decoder, width=p.width,
                               conditional=False, seed=p.seed, device=p.device)


def store_key(p: Params, device: str) -> str:
    """The images lab's key for that model: model_key("images", {fields}, data, device)."""
    from genlab.engine.training.store import model_key
    from genlab.labs.images.params import MODEL_FIELDS

    ip = image_params(p)
    return model_key("images", {f: getattr(ip, f) for f in MODEL_FIELDS}, "digits", device)


def device_of(p: Params, ctx: RunContext) -> str:
    from genlab.engine.device import resolve

    return resolve(ctx.device if p.device == "auto" else p.device)


def stored_run(p: Params, device: str) -> Any:
    """The images lab's ``_Run`` (trainer, data, pool …) for this model, from the store or new
    (so a model trained in either lab continues in the other)."""
    from genlab.engine.training.store import STORE
    from genlab.labs import images

    ip = image_params(p)

    def make() -> Any:
        train, held = images.open_data(ip, RunContext())
        return images._Run(images.make_trainer(ip, device, train), train, held, p.seed)

    try:
        run, _ = STORE.get_or_make(store_key(p, device), make)
    except ValueError as e:  # a device that is not here
        raise LabError(str(e)) from None
    return run


def open_checkpoint(path: str, device: str) -> Any:
    """An ImageTrainer from a checkpoint file (LabError with the reason if it is not one)."""
    from genlab.engine.images.trainer import ImageTrainer

    try:
        return ImageTrainer.load(path, device=device)
    except (OSError, ValueError) as e:
        raise LabError(f"Cannot open {path}: {e}") from None


def latent_shape(trainer: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in trainer.config["shape"])


def decode(trainer: Any, z: np.ndarray, steps: int) -> np.ndarray:
    """Latents z (n, d) -> images (n, C, H, W) in [−1, 1] by the model's deterministic map
    (the null class for a conditional model: guidance plays no part)."""
    shape = latent_shape(trainer)
    noise = np.asarray(z, np.float32).reshape(len(z), *shape)
    sampler = DETERMINISTIC[trainer.config["model"]]
    return trainer.sample(len(z), noise=noise, steps=int(steps), sampler=sampler)


def checkpoint_params(path: str, params: Params) -> Params:
    """The lab's parameters for a checkpoint of the images lab (its model kind and width)."""
    from genlab.engine.training.checkpoint import read_meta
    from genlab.labs.params import replace

    cfg = read_meta(path, "images")["config"]
    return replace(params, decoder=cfg["model"], width=int(cfg["width"]),
                   seed=int(cfg["seed"]))
