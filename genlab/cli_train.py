"""``genlab train`` and ``genlab sample``: the headless face of the training engine.

    genlab train images --minutes 2 --out digits.safetensors
    genlab sample digits.safetensors --class 3 --guidance 2 --out threes.npz
    torchrun --nproc-per-node 2 -m genlab train images --steps 500 --out ddp.safetensors

``train`` shows a progress bar (steps, loss, steps/s, ETA), saves the checkpoint every few
minutes and at the end, writes a sample grid PNG beside it (``CKPT.png``) as it goes, and keeps
a progress file (``CKPT.progress.json``) that the window can follow.  Under torchrun (more
than one process) it trains with DistributedDataParallel: NCCL on CUDA, gloo on the CPU; rank
0 writes the checkpoint, the samples and the progress.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from genlab.labs.params import ParamError

SAVE_EVERY_S = 180.0  # checkpoint and sample grid while a long run goes on
SLICE_S = 0.5  # steps per call sized to take about this long (so the bar and Ctrl+C respond)


def add_parsers(sub: Any) -> None:
    t = sub.add_parser("train", help="train a lab's model headless and write a checkpoint")
    t.add_argument("lab")
    t.add_argument("--preset", default=None)
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="FIELD=VALUE")
    t.add_argument("--seed", type=int, default=None)
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="Adam steps (in all)")
    budget.add_argument("--minutes", type=float, default=None, help="train for this long")
    t.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    t.add_argument("--resume", default=None, metavar="CKPT",
                   help="continue from a checkpoint (its step count and loss curve go on)")
    t.add_argument("--out", required=True, metavar="CKPT", help="the checkpoint to write")
    s = sub.add_parser("sample", help="sample from a checkpoint to .png (a grid) or .npz")
    s.add_argument("checkpoint")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--class", dest="label", type=int, default=None,
                   help="the class to sample (a conditional model; default: all classes)")
    s.add_argument("--guidance", type=float, default=1.0,
                   help="w: 0 unconditional, 1 conditional, > 1 guided")
    s.add_argument("--steps", type=int, default=50, help="sampler steps")
    s.add_argument("--sampler", default=None,
                   help="ddim or ddpm (diffusion), euler or midpoint (flow)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    s.add_argument("--out", required=True)


# -- distributed ------------------------------------------------------------------------------


def _world() -> tuple[int, int, int]:
    """(rank, local rank, world size) from torchrun's environment (1 process: 0, 0, 1)."""
    env = os.environ
    return (int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)),
            int(env.get("WORLD_SIZE", 1)))


def _init_distributed(device: str) -> str:
    """Join torchrun's process group; the device this rank trains on."""
    import torch
    import torch.distributed as dist

    _, local, _ = _world()
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return f"cuda:{local}"
    dist.init_process_group("gloo")
    return "cpu"


# -- train --------------------------------------------------------------------------------------


def train(args: Any) -> int:
    from genlab.cli import params_from_args
    from genlab.labs import get_lab

    lab = get_lab(args.lab)
    if lab.make_trainer is None:
        from genlab.labs import LABS

        able = ", ".join(n for n, info in LABS.items() if info.make_trainer is not None)
        raise ParamError(f"the {lab.name} lab does not train headless: labs that do are {able}")
    if args.steps is not None and args.steps < 1:
        raise ParamError("--steps must be at least 1")
    if args.minutes is not None and not (math.isfinite(args.minutes) and args.minutes > 0):
        raise ParamError("--minutes must be a positive number")
    params = params_from_args(lab, args)
    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        raise ParamError(f"--out {out.name!r}: a checkpoint is a .safetensors file")
    from genlab.ui.export import check_writable

    rank, _, world = _world()
    if rank == 0:
        try:
            check_writable(out)
        except OSError as e:
            raise ParamError(f"--out {out}: {e}") from None
    device = args.device
    if world > 1:
        device = _init_distributed(device)
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(world, 1)))
    if args.resume is not None:
        trainer = _load_checkpoint(args.resume, device)
    else:
        trainer = lab.make_trainer(params, device)
    from genlab.engine.training.progress import Progress

    start = trainer.step_
    total = start + args.steps if args.steps is not None else None
    seconds = 60.0 * args.minutes if args.minutes is not None else None
    if total is None and seconds is None:
        total = start + 2000
    progress = Progress(total=total, seconds=seconds, start_step=start,
                        path=out.with_name(out.name + ".progress.json") if rank == 0 else None)
    progress.checkpoint = str(out)
    bar = _bar(progress, rank)
    try:
        _train_loop(trainer, progress, bar, out, rank, world)
    except KeyboardInterrupt:
        if rank == 0:
            trainer.save(out)
            progress.done = True
            progress.error = "interrupted"
            progress.write()
            print(f"\ngenlab: interrupted at step {trainer.step_}; wrote {out}",
                  file=sys.stderr)
        return 130
    finally:
        bar.close()
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    if rank == 0:
        print(f"wrote {out} (step {trainer.step_}, loss {progress.loss_avg:.4f}); samples in "
              f"{progress.samples}", file=sys.stderr)
    return 0


def _train_loop(trainer: Any, progress: Any, bar: Any, out: Path, rank: int,
                world: int) -> None:
    import numpy as np

    chunk, last_save = 1, time.monotonic()
    while True:
        done = progress.finished
        if world > 1:
            done = _agreed(int(done), "max") > 0  # every rank stops at the same step
        if done:
            break
        if progress.total is not None:
            chunk = min(chunk, progress.total - trainer.step_)
        if world > 1:
            chunk = _agreed(chunk)  # every rank takes the same number of steps
        t0 = time.monotonic()
        losses = trainer.step(chunk)
        if len(losses) < chunk or not np.isfinite(losses).all():
            from genlab.labs.base import LabError

            raise LabError(f"the loss became NaN or infinite at step {trainer.step_}: lower "
                           "the learning rate")
        dt = max(time.monotonic() - t0, 1e-6)
        chunk = max(1, min(int(chunk * SLICE_S / dt) or 1, 4 * chunk, 1000))
        progress.update(trainer.step_, float(losses[-1]))
        bar.n = trainer.step_ - progress.start_step
        bar.set_postfix(loss=f"{progress.loss_avg:.4f}", refresh=False)
        bar.refresh()
        if rank == 0 and (time.monotonic() - last_save > SAVE_EVERY_S):
            _save(trainer, progress, out)
            last_save = time.monotonic()
        elif rank == 0:
            progress.write()
    if rank == 0:
        progress.done = True
        _save(trainer, progress, out)


def _agreed(value: int, how: str = "min") -> int:
    """The minimum (or maximum) of ``value`` over the ranks."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN if how == "min" else dist.ReduceOp.MAX)
    return int(t.item())


def _save(trainer: Any, progress: Any, out: Path) -> None:
    from genlab.engine.images.grid import save_grid

    trainer.save(out)
    grid = out.with_name(out.name + ".png")
    n = 8 * max(1, min(8, getattr(trainer, "n_classes", 0) or 8))
    labels = None
    if getattr(trainer, "n_classes", 0):
        import numpy as np

        labels = np.arange(n) % trainer.n_classes
    save_grid(trainer.sample(n, labels=labels, seed=0), grid,
              cols=trainer.n_classes if labels is not None else 8)
    progress.samples = str(grid)
    progress.write()


def _bar(progress: Any, rank: int):
    from tqdm import tqdm

    total = (progress.total - progress.start_step) if progress.total is not None else None
    return tqdm(total=total, desc="training", unit="step", file=sys.stderr,
                disable=rank != 0, dynamic_ncols=True, mininterval=0.5)


def _load_checkpoint(path: str, device: str) -> Any:
    from genlab.engine.images.trainer import ImageTrainer

    if not Path(path).is_file():
        raise ParamError(f"no such checkpoint: {path}")
    try:
        return ImageTrainer.load(path, device=device)
    except ValueError as e:
        raise ParamError(f"{path}: {e}") from None


# -- sample -------------------------------------------------------------------------------------


def sample(args: Any) -> int:
    import numpy as np

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".npz"):
        raise ParamError(f"--out {out.name!r}: write a .png (a grid) or an .npz")
    if not 1 <= args.n <= 10_000:
        raise ParamError("--n must be from 1 to 10000")
    if not 1 <= args.steps <= 1000:
        raise ParamError("--steps must be from 1 to 1000")
    if not (math.isfinite(args.guidance) and 0 <= args.guidance <= 50):
        raise ParamError("--guidance must be a number from 0 to 50")
    from genlab.ui.export import check_writable

    try:
        check_writable(out)
    except OSError as e:
        raise ParamError(f"--out {out}: {e}") from None
    trainer = _load_checkpoint(args.checkpoint, args.device)
    k = getattr(trainer, "n_classes", 0)
    labels = None
    if args.label is not None:
        if not k:
            raise ParamError("--class: this model is not conditional")
        if not 0 <= args.label < k:
            raise ParamError(f"--class {args.label}: the model's classes are 0 to {k - 1}")
        labels = np.full(args.n, args.label, dtype=np.int64)
    elif k:
        labels = np.arange(args.n) % k
    kw = {} if args.sampler is None else {"sampler": args.sampler}
    try:
        x = trainer.sample(args.n, labels=labels, guidance=args.guidance, steps=args.steps,
                           seed=args.seed, **kw)
    except ValueError as e:
        raise ParamError(str(e)) from None
    from genlab.engine.images.grid import save_grid, to_unit

    if suffix == ".png":
        save_grid(x, out, cols=k if labels is not None and args.label is None and k else 8)
    else:
        arrays = {"images": to_unit(x).astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels
        tmp = out.with_name(f".{out.stem}.part.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, out)
    print(f"wrote {out} ({args.n} samples)", file=sys.stderr)
    return 0
