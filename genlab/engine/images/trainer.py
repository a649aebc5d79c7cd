"""``ImageTrainer``: class-conditional diffusion or flow matching on image data sets, with an
EMA of the weights for sampling, safe checkpoints that resume exactly, and DDP under torchrun.

    tr = ImageTrainer(digits(), model="diffusion", width=32)
    losses = tr.step(500)                       # Adam steps; tr.step_, tr.history_
    x = tr.sample(16, labels=3, guidance=2.0)   # (16, 1, 8, 8) in [-1, 1], EMA weights
    tr.save("run.safetensors"); tr = ImageTrainer.load("run.safetensors")

Randomness: batches (which images) come from a numpy ``Generator`` and the rest (label
dropout, times, noise) from a CPU ``torch.Generator``, both seeded by (seed, rank) and both
saved in checkpoints, so on the CPU "train 20" and "train 10, save, load, train 10" take the
same steps.  Sampling draws from its own ``seed`` and never touches the training streams.
Under ``torch.distributed`` (initialised by the caller, e.g. torchrun) the net is wrapped in
DistributedDataParallel, each rank draws its own batches, the loss is averaged over ranks and
only rank 0 writes checkpoints.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from numpy.typing import ArrayLike

from genlab.engine.device import resolve
from genlab.engine.images.nets import make_net, resolve_backbone
from genlab.engine.images.objectives import Diffusion, Flow, guided_predictor, path_indices
from genlab.engine.optim import LiveLearningRate
from genlab.engine.training.checkpoint import (
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from genlab.engine.training.ema import ema_model

__all__ = ["ImageTrainer"]

KIND = "images"
#: Gradient-norm clip: a few early large gradients at lr 2e-3 otherwise knock Adam off.
CLIP = 1.0
_INIT_KEYS = ("model", "backbone", "width", "conditional", "p_uncond", "lr", "batch_size",
              "ema", "schedule", "seed")


class _DataSpec:
    """What a checkpoint says about its data, standing in until ``step`` needs the images
    (sampling needs only the shape and classes)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.name = str(cfg["data"])
        self.shape = tuple(int(s) for s in cfg["shape"])
        self.n_classes = int(cfg["n_classes"])
        self.class_names = tuple(str(c) for c in cfg["class_names"])

    def __len__(self) -> int:
        return 0


def _seed_of(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> 1)


class ImageTrainer(LiveLearningRate):
    """Trains ``model`` ("diffusion": ε-prediction on the VP ``schedule``; "flow": straight
    flow matching) with a ``backbone`` ("auto": MLP for ≤ 8×8, else U-Net) of ``width`` on
    ``data`` (an ImageData-like object: name, shape, n_classes, class_names, len, get(idx)).

    ``conditional`` models see each image's class, replaced by the null class with
    probability ``p_uncond`` (label dropout), so classifier-free guidance works.  ``lr``
    (Adam) can be changed between steps (``.lr``).  See the module docstring for RNG streams.

    Learned state: ``step_`` (Adam steps applied), ``history_`` (their losses), ``net`` and
    ``ema_`` (an ``AveragedModel``; sampling uses ``ema_.module``), ``optimizer``, ``device_``
    ("cpu", "cuda", "mps"; "cuda:k" for rank k's GPU under DDP), ``rank_``, ``world_``.
    ``config`` (JSON) holds everything that determines the model, and the data set's name.
    """

    def __init__(self, data: Any, model: str = "diffusion", backbone: str = "auto",
                 width: int = 32, conditional: bool = True, p_uncond: float = 0.1,
                 lr: float = 2e-3, batch_size: int = 128, ema: float = 0.999,
                 schedule: str = "linear", seed: int = 0, device: str = "auto") -> None:
        if model not in ("diffusion", "flow"):
            raise ValueError(f"model must be 'diffusion' or 'flow', got {model!r}")
        if schedule not in ("linear", "cosine"):
            raise ValueError(f"schedule must be 'linear' or 'cosine', got {schedule!r}")
        if int(width) < 4 or int(width) != width:
            raise ValueError(f"width must be a whole number >= 4, got {width}")
        if not 0.0 <= float(p_uncond) <= 1.0:
            raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
        if not (float(lr) > 0 and np.isfinite(lr)):
            raise ValueError(f"lr must be a positive number, got {lr}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 <= float(ema) < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {ema}")
        if device not in ("auto", "cpu", "cuda", "mps") and not str(device).startswith("cuda:"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
        shape = tuple(int(s) for s in data.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"data shape must be (C, H, W), got {shape}")
        n_data_classes = int(data.n_classes)
        if conditional and n_data_classes < 1:
            raise ValueError(f"'{data.name}' has no classes: train it with conditional=False")
        self.device_ = resolve(device)
        if self.device_ != "cpu" and not _available(self.device_):
            raise ValueError(f"device {self.device_!r} is not available here")
        distributed = dist.is_available() and dist.is_initialized()
        if distributed and self.device_ == "cuda":  # one GPU per rank under torchrun
            local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
            self.device_ = f"cuda:{local % torch.cuda.device_count()}"
            torch.cuda.set_device(self.device_)
        self.n_classes = n_data_classes if conditional else 0
        self.config: dict[str, Any] = {
            "data": str(data.name), "shape": list(shape), "n_classes": n_data_classes,
            "class_names": [str(c) for c in data.class_names], "model": model,
            "backbone": resolve_backbone(backbone, shape), "width": int(width),
            "conditional": bool(conditional), "p_uncond": float(p_uncond), "lr": float(lr),
            "batch_size": int(batch_size), "ema": float(ema), "schedule": schedule,
            "seed": int(seed),
        }
        self.data = data
        self.objective: Diffusion | Flow = Diffusion(schedule) if model == "diffusion" \
            else Flow()
        with torch.random.fork_rng(devices=[]):  # seeded init, global RNG untouched
            torch.manual_seed(int(seed))
            net = make_net(self.config["backbone"], shape, int(width), self.n_classes)
        self.net = net.to(self.device_)
        self.ema_ = ema_model(self.net, float(ema))
        self.rank_, self.world_ = 0, 1
        self._model: torch.nn.Module = self.net
        if distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.rank_, self.world_ = dist.get_rank(), dist.get_world_size()
            ids = [torch.device(self.device_).index or 0] if self.device_.startswith(
                "cuda") else None
            self._model = DistributedDataParallel(self.net, device_ids=ids)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(lr))
        self._reseed(0)
        self.step_ = 0
        self.history_: list[float] = []
        self._x: torch.Tensor | None = None
        self._y: torch.Tensor | None = None

    # ----------------------------------------------------------------------------- data
    def _reseed(self, step: int) -> None:
        seed = self.config["seed"]
        self._rng = np.random.default_rng([seed, self.rank_, step])
        self._gen = torch.Generator().manual_seed(_seed_of(seed, self.rank_, step, 1))

    def _ensure_data(self) -> None:
        if isinstance(self.data, _DataSpec):
            from genlab.engine.images.data import open_image_data  # by name, on demand

            data = open_image_data(self.config["data"])
            if [int(s) for s in data.shape] != self.config["shape"] or \
                    int(data.n_classes) != self.config["n_classes"]:
                raise ValueError(f"data '{self.config['data']}' no longer matches this model")
            self.data = data
        if len(self.data) < 1:
            raise ValueError(f"'{self.data.name}' has no images to train on")
        x, y = getattr(self.data, "x", None), getattr(self.data, "y", None)
        if self._x is None and isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            # in-memory sets live on the device once; lazy ones (sprites) go through get()
            self._x = torch.as_tensor(x, dtype=torch.float32, device=self.device_)
            self._y = torch.as_tensor(y, dtype=torch.long, device=self.device_)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.config["batch_size"]
        idx = self._rng.integers(0, len(self.data), b)
        if self._x is not None and self._y is not None:
            it = torch.as_tensor(idx, device=self.device_)
            return self._x[it], self._y[it]
        x, y = self.data.get(idx)
        return (torch.as_tensor(np.asarray(x, np.float32), device=self.device_),
                torch.as_tensor(np.asarray(y, np.int64), device=self.device_))

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.device_.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---------------------------------------------------------------------------- train
    def _loss(self) -> torch.Tensor:
        x, y = self._batch()
        y_in = None
        if self.n_classes:
            drop = torch.rand(x.shape[0], generator=self._gen) < self.config["p_uncond"]
            y_in = torch.where(drop.to(y.device), torch.full_like(y, self.n_classes), y)
        with self._autocast():
            return self.objective.loss(self._model, x, y_in, self._gen)

    def step(self, n: int = 1) -> np.ndarray:
        """Up to n Adam steps (each followed by an EMA update); their losses.  A non-finite
        loss stops the run *without* applying that step (it is the last value returned and
        is not in ``history_``), like ``optim.guarded_steps``."""
        self._ensure_data()
        self._model.train()
        losses: list[float] = []
        for _ in range(int(n)):
            loss = self._loss()
            value = loss.detach().float()
            if self.world_ > 1:  # every rank sees the mean loss, so all stop together
                value = value.clone()
                dist.all_reduce(value)
                value /= self.world_
            v = float(value)
            losses.append(v)
            if not np.isfinite(v):
                break
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), CLIP)
            self.optimizer.step()
            self.ema_.update_parameters(self.net)
            self.step_ += 1
            self.history_.append(v)
        return np.array(losses)

    # --------------------------------------------------------------------------- sample
    def _labels(self, labels: int | ArrayLike | None, n: int) -> torch.Tensor | None:
        if labels is None:
            return None
        if not self.n_classes:
            raise ValueError("this model is unconditional: labels must be None")
        ya = np.asarray(labels)
        if ya.ndim > 1 or (ya.ndim == 1 and ya.shape[0] != n):
            raise ValueError(f"labels must be one class or ({n},) classes, got {ya.shape}")
        if not np.issubdtype(ya.dtype, np.number) or not np.all(np.isfinite(ya)) or \
                not np.array_equal(ya, np.round(ya)) or ya.min() < 0 or \
                ya.max() >= self.n_classes:
            raise ValueError(f"labels must be whole numbers in 0..{self.n_classes - 1}")
        return torch.as_tensor(np.broadcast_to(ya.astype(np.int64), (n,)).copy(),
                               device=self.device_)

    def sample(self, n: int, labels: int | ArrayLike | None = None, guidance: float = 1.0,
               steps: int = 50, sampler: str | None = None, seed: int = 0,
               noise: np.ndarray | None = None, path_at: Sequence[float] = ()
               ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """n images (n, C, H, W) float32 in [−1, 1] from the EMA weights.

        labels: None (the null class; required for unconditional models), one class for all,
        or (n,) classes.  guidance w: 0 unconditional, 1 conditional, > 1 guided.  sampler:
        "ddim" (default) or "ddpm" for diffusion, "euler" (default) or "midpoint" for flow.
        noise: the starting noise (n, C, H, W), else drawn from ``seed`` (DDPM's step noise
        always comes from ``seed``).  path_at: progress fractions in [0, 1] (0 = the noise,
        1 = the output); when given, returns (images, states (len(path_at), n, C, H, W))."""
        if int(n) < 1 or int(steps) < 1:
            raise ValueError("need n >= 1 and steps >= 1")
        n, steps = int(n), int(steps)
        sampler = sampler or self.objective.samplers[0]
        if sampler not in self.objective.samplers:
            raise ValueError(f"a {self.config['model']} model samples with "
                             f"{' or '.join(self.objective.samplers)}, not {sampler!r}")
        w = float(guidance)
        if not np.isfinite(w):
            raise ValueError(f"guidance must be a finite number, got {guidance}")
        keep = path_indices(path_at, steps)
        shape = (n, *self.config["shape"])
        g = torch.Generator().manual_seed(int(seed))
        if noise is None:
            z = torch.randn(shape, generator=g)
        else:
            za = np.asarray(noise, dtype=np.float32)
            if za.shape != shape or not np.all(np.isfinite(za)):
                raise ValueError(f"noise must be finite with shape {shape}, got {za.shape}")
            z = torch.from_numpy(za.copy())
        y = self._labels(labels, n)
        net = self.ema_.module
        net.eval()
        predict = guided_predictor(net, y, w, self.n_classes)
        with torch.no_grad(), self._autocast():
            x, states = self.objective.sample(predict, z.to(self.device_), steps, sampler, g,
                                              keep)
        out = x.float().cpu().numpy()
        if not keep:
            return out
        return out, np.stack([states[i].float().cpu().numpy() for i in keep])

    # ----------------------------------------------------------------------- checkpoint
    def save(self, path: str | Path) -> None:
        """Write ONE .safetensors file: net, EMA, Adam state and the torch RNG state as
        tensors; config, step, history, numpy RNG state as JSON metadata.  Only rank 0
        writes under DDP (the weights are the same on every rank)."""
        if self.rank_ != 0:
            return
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in self.ema_.state_dict().items()})
        skeleton, opt = flatten_state(self.optimizer.state_dict(), "optim")
        tensors.update(opt)
        tensors["rng.torch"] = self._gen.get_state()
        meta = {"kind": KIND, "config": self.config, "step": self.step_,
                "history": self.history_, "optim": skeleton,
                "rng_numpy": self._rng.bit_generator.state, "world_size": self.world_}
        save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path: str | Path, data: Any = None, device: str = "auto") -> ImageTrainer:
        """A trainer from a checkpoint, ready to sample or to continue training (``step_``
        and ``history_`` go on from where they were).  ``data`` None opens the data set by
        its name when training resumes.  ValueError (one line) for a bad file or data that
        does not match."""
        tensors, meta = load_checkpoint(path, kind=KIND)
        name = Path(path).name
        try:
            cfg = meta["config"]
            spec = _DataSpec(cfg)
            kwargs = {k: cfg[k] for k in _INIT_KEYS}
            step, history = int(meta["step"]), [float(v) for v in meta["history"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{name}: incomplete images checkpoint ({e!s:.80})") from None
        if data is not None and (tuple(int(s) for s in data.shape) != spec.shape
                                 or int(data.n_classes) != spec.n_classes):
            raise ValueError(f"{name} was trained on {spec.shape} images with "
                             f"{spec.n_classes} classes; the data given do not match")
        tr = cls(spec if data is None else data, device=device, **kwargs)
        try:
            tr.net.load_state_dict({k[4:]: v for k, v in tensors.items()
                                    if k.startswith("net.")})
            tr.ema_.load_state_dict({k[4:]: v for k, v in tensors.items()
                                     if k.startswith("ema.")})
            tr.optimizer.load_state_dict(unflatten_state(meta["optim"], tensors))
            if tr.rank_ == 0:
                tr._gen.set_state(tensors["rng.torch"])
                tr._rng.bit_generator.state = meta["rng_numpy"]
            else:  # other ranks' streams were not saved: fresh ones for (seed, rank, step)
                tr._reseed(step)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            msg = " ".join(str(e).split())[:100]
            raise ValueError(f"{name}: weights do not fit this model ({msg})") from None
        tr.step_, tr.history_ = step, history
        return tr


def _available(device: str) -> bool:
    if device.startswith("cuda"):
        return torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    return device == "mps" and mps is not None and mps.is_available()
