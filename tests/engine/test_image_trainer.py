"""ImageTrainer, its nets, objectives and samplers, on a tiny stand-in for ImageData."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from genlab.engine.images.nets import MLPNet, UNet, make_net, resolve_backbone
from genlab.engine.images.objectives import Diffusion, Flow, guided_predictor
from genlab.engine.images.trainer import ImageTrainer


class Patterns:
    """ImageData's interface on 64 8×8 images of 2 classes: horizontal (0) and vertical (1)
    stripes with a random phase, in [-1, 1]."""

    def __init__(self, n: int = 64, size: int = 8, channels: int = 1, labelled: bool = True,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        y = np.arange(n) % 2
        phase = rng.integers(0, 2, n)
        r = np.arange(size)
        stripes = ((r[None, :] + phase[:, None]) % 2) * 2.0 - 1.0          # (n, size)
        img = np.where(y[:, None, None] == 0, stripes[:, :, None], stripes[:, None, :])
        img = np.broadcast_to(img, (size, n, size, size)).transpose(1, 0, 2, 3)[:, :channels]
        self.x = np.ascontiguousarray(0.9 * img, dtype=np.float32)
        self.y = y.astype(np.int64) if labelled else np.zeros(n, np.int64)
        self.name = "patterns"
        self.n_classes = 2 if labelled else 0
        self.class_names = ("horizontal", "vertical") if labelled else ()

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.x[idx], self.y[idx]


class LazyPatterns(Patterns):
    """The same images through get() only (like SpriteData): no x / y attributes."""

    def __init__(self) -> None:
        super().__init__()
        self._xy = (self.x, self.y)
        del self.x, self.y

    def __len__(self) -> int:
        return len(self._xy[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self._xy[0].shape[1:])  # type: ignore[return-value]

    def get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._xy[0][idx], self._xy[1][idx]


def small(model: str = "diffusion", **kw) -> ImageTrainer:
    args = {"backbone": "mlp", "width": 8, "batch_size": 32, "device": "cpu", "seed": 0} | kw
    return ImageTrainer(Patterns(), model=model, **args)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------------------- training


@pytest.mark.parametrize(("model", "drop"), [("diffusion", 0.5), ("flow", 0.8)])
def test_loss_falls_on_a_tiny_set(model, drop):
    # the flow loss has a high floor (x1 − x0 is unpredictable from x_t at small t)
    tr = small(model, width=16)
    losses = tr.step(150)
    assert len(losses) == 150 and np.all(np.isfinite(losses))
    assert np.mean(losses[-30:]) < drop * np.mean(losses[:10])
    assert tr.step_ == 150 and tr.history_ == pytest.approx(list(losses))


def test_unet_trains_and_lazy_data_give_the_same_steps():
    a = ImageTrainer(Patterns(), backbone="unet", width=8, batch_size=16, device="cpu")
    b = ImageTrainer(LazyPatterns(), backbone="unet", width=8, batch_size=16, device="cpu")
    la, lb = a.step(5), b.step(5)
    np.testing.assert_array_equal(la, lb)  # device-resident and get() batches are the same
    assert np.all(np.isfinite(la))


def test_same_seed_same_losses_and_samples():
    a, b, c = small(), small(), small(seed=1)
    la, lb, lc = a.step(8), b.step(8), c.step(8)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(la, lc)
    np.testing.assert_array_equal(a.sample(4, labels=1, steps=5, seed=3),
                                  b.sample(4, labels=1, steps=5, seed=3))


def test_a_non_finite_loss_stops_without_being_applied():
    tr = small()
    tr.step(2)
    real = tr.objective.loss
    calls = []

    def loss(*args):
        calls.append(1)
        out = real(*args)
        return out * float("nan") if len(calls) == 3 else out

    tr.objective.loss = loss  # type: ignore[method-assign]
    losses = tr.step(10)
    assert len(losses) == 3 and np.isnan(losses[-1]) and np.all(np.isfinite(losses[:2]))
    before = [p.detach().clone() for p in tr.net.parameters()]
    assert tr.step_ == 4 and len(tr.history_) == 4
    tr.objective.loss = real  # type: ignore[method-assign]
    for p, q in zip(before, tr.net.parameters(), strict=True):
        assert torch.equal(p, q)


# ---------------------------------------------------------------------------- checkpoints


def test_save_load_sample_equals_sampling_before(tmp_path):
    tr = small()
    tr.step(10)
    before = tr.sample(6, labels=[0, 1, 0, 1, 0, 1], guidance=2.0, steps=6, seed=5)
    path = tmp_path / "run.safetensors"
    tr.save(path)
    back = ImageTrainer.load(path, data=Patterns(), device="cpu")
    after = back.sample(6, labels=[0, 1, 0, 1, 0, 1], guidance=2.0, steps=6, seed=5)
    np.testing.assert_array_equal(before, after)
    assert back.config == tr.config and back.step_ == 10
    # no data at all: sampling needs only the checkpoint
    alone = ImageTrainer.load(path, device="cpu")
    np.testing.assert_array_equal(alone.sample(6, labels=[0, 1, 0, 1, 0, 1], guidance=2.0,
                                               steps=6, seed=5), before)


@pytest.mark.parametrize("model", ["diffusion", "flow"])
def test_resume_continues_and_equals_one_run(tmp_path, model):
    one = small(model)
    l20 = one.step(20)
    first = small(model)
    l10 = first.step(10)
    first.save(tmp_path / "a.safetensors")
    resumed = ImageTrainer.load(tmp_path / "a.safetensors", data=Patterns(), device="cpu")
    assert resumed.step_ == 10 and len(resumed.history_) == 10
    l10b = resumed.step(10)
    assert resumed.step_ == 20 and len(resumed.history_) == 20
    np.testing.assert_array_equal(np.concatenate([l10, l10b]), l20)  # RNG states restored
    assert resumed.history_ == one.history_
    for p, q in zip(one.net.parameters(), resumed.net.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(one.ema_.parameters(), resumed.ema_.parameters(), strict=True):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(one.sample(3, labels=1, steps=4),
                                  resumed.sample(3, labels=1, steps=4))


def test_checkpoint_is_safetensors_with_json_metadata_and_no_pickle(tmp_path):
    tr = small()
    tr.step(3)
    path = tmp_path / "run.safetensors"
    tr.save(path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])  # the whole file = JSON header + raw tensor bytes
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    assert 8 + n + end == len(raw)
    meta = json.loads(header["__metadata__"]["genlab"])
    assert meta["kind"] == "images" and meta["step"] == 3 and len(meta["history"]) == 3
    assert meta["config"]["model"] == "diffusion" and meta["config"]["shape"] == [1, 8, 8]
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
    assert any(k.startswith("net.") for k in names) and any(k.startswith("ema.") for k in names)
    assert any(k.startswith("optim.") for k in names) and "rng.torch" in names
    assert not list(tmp_path.glob("*.tmp*"))


def test_bad_checkpoints_give_one_line_value_errors(tmp_path):
    tr = small()
    tr.step(2)
    good = tmp_path / "good.safetensors"
    tr.save(good)
    raw = good.read_bytes()
    bad = {
        "text.safetensors": b"not a checkpoint\n",
        "truncated.safetensors": raw[: len(raw) // 2],
        "flipped.safetensors": raw[:-10] + bytes(b ^ 0xFF for b in raw[-10:]),
        "empty.safetensors": b"",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"))
    for name in [*bad, "foreign.safetensors", "missing.safetensors"]:
        with pytest.raises(ValueError) as e:
            ImageTrainer.load(tmp_path / name)
        one_line(e)
    with pytest.raises(ValueError) as e:  # a checkpoint for other images
        ImageTrainer.load(good, data=Patterns(size=16))
    assert "match" in one_line(e)


# ------------------------------------------------------------------------- sampling


def test_guidance_zero_is_unconditional_and_one_is_conditional():
    tr = small()
    tr.step(20)
    noise = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    net, ones = tr.ema_.module, torch.ones(4, dtype=torch.long)

    def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return net(x, t, ones)

    for sampler in ("ddim", "ddpm"):
        uncond = tr.sample(4, labels=None, steps=6, sampler=sampler, noise=noise)
        w0 = tr.sample(4, labels=1, guidance=0.0, steps=6, sampler=sampler, noise=noise)
        np.testing.assert_array_equal(w0, uncond)
        w1 = tr.sample(4, labels=1, guidance=1.0, steps=6, sampler=sampler, noise=noise)
        # the conditional model integrated by hand, with the same noise
        with torch.no_grad():
            cond, _ = tr.objective.sample(conditional, torch.from_numpy(noise), 6, sampler,
                                          torch.Generator().manual_seed(0))
        np.testing.assert_array_equal(w1, cond.numpy())
        assert not np.allclose(w1, uncond)
    # in between, one stacked pass gives ε(∅) + w (ε(y) − ε(∅))
    x, t = torch.randn(3, 1, 8, 8), torch.full((3,), 0.5)
    y = torch.tensor([0, 1, 1])
    with torch.no_grad():
        u, c = tr.ema_.module(x, t, None), tr.ema_.module(x, t, y)
        g = guided_predictor(tr.ema_.module, y, 2.5, null_label=2)(x, t)
    torch.testing.assert_close(g, u + 2.5 * (c - u), rtol=1e-5, atol=1e-5)


def test_ddim_is_deterministic_given_noise_and_ddpm_uses_the_seed():
    tr = small()
    tr.step(10)
    noise = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    a = tr.sample(3, labels=0, steps=5, noise=noise, seed=0)
    b = tr.sample(3, labels=0, steps=5, noise=noise, seed=7)
    np.testing.assert_array_equal(a, b)
    c = tr.sample(3, labels=0, steps=5, noise=noise, seed=0, sampler="ddpm")
    d = tr.sample(3, labels=0, steps=5, noise=noise, seed=7, sampler="ddpm")
    assert not np.allclose(c, d)
    assert a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1


@pytest.mark.parametrize(("model", "sampler"), [("diffusion", "ddim"), ("diffusion", "ddpm"),
                                                ("flow", "euler"), ("flow", "midpoint")])
def test_samplers_shapes_and_path(model, sampler):
    tr = small(model)
    tr.step(3)
    noise = np.random.default_rng(2).standard_normal((5, 1, 8, 8)).astype(np.float32)
    out, path = tr.sample(5, labels=[0, 1, 0, 1, 1], guidance=1.5, steps=8, sampler=sampler,
                          noise=noise, path_at=[0.0, 0.25, 0.5, 1.0])
    assert out.shape == (5, 1, 8, 8) and path.shape == (4, 5, 1, 8, 8)
    np.testing.assert_array_equal(path[0], noise)  # t = 0 of the path: the given noise
    np.testing.assert_array_equal(path[-1], out)   # the last state: the output
    assert np.all(np.abs(out) <= 1)
    assert tr.sample(2, steps=3, sampler=sampler).shape == (2, 1, 8, 8)


def test_flow_path_goes_from_noise_to_samples():
    tr = small("flow", width=16)
    tr.step(100)
    out, path = tr.sample(8, labels=0, steps=10, path_at=np.linspace(0, 1, 11))
    dist_to_out = [float(np.abs(p - out).mean()) for p in path]
    assert dist_to_out == sorted(dist_to_out, reverse=True)  # every step closer to the end


def test_bad_sampling_arguments():
    tr = small()
    unc = ImageTrainer(Patterns(labelled=False), backbone="mlp", width=8, conditional=False,
                       device="cpu")
    for call in (lambda: tr.sample(2, labels=2), lambda: tr.sample(2, labels=[0, 1, 1]),
                 lambda: tr.sample(2, labels=0.5), lambda: tr.sample(2, sampler="euler"),
                 lambda: tr.sample(2, noise=np.zeros((3, 1, 8, 8))),
                 lambda: tr.sample(2, path_at=[1.5]), lambda: tr.sample(0),
                 lambda: tr.sample(2, guidance=float("nan")),
                 lambda: unc.sample(2, labels=0)):
        with pytest.raises(ValueError) as e:
            call()
        one_line(e)
    assert unc.sample(2, steps=3).shape == (2, 1, 8, 8)


def test_bad_trainer_arguments():
    for kw in ({"model": "gan"}, {"backbone": "vit"}, {"schedule": "sqrt"}, {"width": 2},
               {"p_uncond": 2.0}, {"lr": -1.0}, {"batch_size": 0}, {"ema": 1.5},
               {"device": "tpu"}):
        with pytest.raises(ValueError) as e:
            ImageTrainer(Patterns(), **kw)
        one_line(e)
    with pytest.raises(ValueError, match="no classes"):
        ImageTrainer(Patterns(labelled=False), conditional=True)


# ------------------------------------------------------------------------------ nets


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 28, 28), (3, 32, 32),
                                   (1, 30, 30), (3, 28, 20)])
def test_unet_shapes(shape):
    net = UNet(shape[0], shape[1:], width=8, n_classes=3)
    x, t = torch.randn(2, *shape), torch.rand(2)
    assert net(x, t, torch.tensor([0, 3])).shape == x.shape
    assert net(x, t).shape == x.shape
    assert net.levels == (2 if min(shape[1:]) <= 16 else 3)


def test_mlp_backbone_and_auto():
    net = MLPNet(1, (8, 8), width=8, n_classes=0)
    x = torch.randn(4, 1, 8, 8)
    assert net(x, torch.rand(4)).shape == x.shape
    with pytest.raises(ValueError):
        net(x, torch.rand(4), torch.zeros(4, dtype=torch.long))
    assert resolve_backbone("auto", (1, 8, 8)) == "mlp"
    assert resolve_backbone("auto", (1, 28, 28)) == "unet"
    assert isinstance(make_net("auto", (3, 32, 32), 8), UNet)


def test_objective_losses_are_the_papers():
    """At the zero-output start of the nets, the ε loss is E ε² = 1 and the flow loss
    E |x1 − x0|² = E x1² + 1."""
    net = UNet(1, (8, 8), width=8)
    x1 = torch.full((256, 1, 8, 8), 0.5)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        assert float(Diffusion().loss(net, x1, None, g)) == pytest.approx(1.0, abs=0.02)
        assert float(Flow().loss(net, x1, None, g)) == pytest.approx(1.25, abs=0.02)


# ------------------------------------------------------------------------------ DDP

DDP_SCRIPT = """
import sys, numpy as np, torch, torch.distributed as dist
sys.path.insert(0, {root!r})
from tests.engine.test_image_trainer import Patterns
from genlab.engine.images.trainer import ImageTrainer

torch.set_num_threads(1)
dist.init_process_group("gloo")
rank = dist.get_rank()
tr = ImageTrainer(Patterns(), backbone="mlp", width=8, batch_size=8, device="cpu")
idx = tr._rng.integers(0, 64, 8)  # this rank's next batch indices, from (seed, rank)
tr._reseed(0)
losses = tr.step(3)
out = {out!r}
w = torch.cat([p.detach().flatten() for p in tr.net.parameters()]).numpy()
np.save(out + f"/w{{rank}}.npy", w)
np.save(out + f"/idx{{rank}}.npy", idx)
np.save(out + f"/loss{{rank}}.npy", losses)
tr.save(out + f"/ckpt{{rank}}.safetensors")
dist.destroy_process_group()
"""


def test_ddp_two_cpu_processes(tmp_path):
    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(root=root, out=str(tmp_path))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": root}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", str(script)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    w0, w1 = np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy")
    np.testing.assert_array_equal(w0, w1)  # same weights on both ranks after 3 steps
    assert not np.array_equal(np.load(tmp_path / "idx0.npy"), np.load(tmp_path / "idx1.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "loss0.npy"),
                                  np.load(tmp_path / "loss1.npy"))  # the mean over ranks
    assert (tmp_path / "ckpt0.safetensors").exists()
    assert not (tmp_path / "ckpt1.safetensors").exists()  # only rank 0 writes
    back = ImageTrainer.load(tmp_path / "ckpt0.safetensors", data=Patterns(), device="cpu")
    assert back.step_ == 3
    np.testing.assert_array_equal(
        torch.cat([p.detach().flatten() for p in back.net.parameters()]).numpy(), w0)
