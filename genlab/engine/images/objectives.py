r"""Diffusion and flow-matching objectives for images, their samplers, and classifier-free
guidance.  Tensors are (B, C, H, W); random draws come from a CPU ``torch.Generator`` (so a
seed gives the same numbers on every device) and are moved to the data's device.

**Diffusion** (ε-prediction; Ho et al. 2020, eq. 14, in continuous time): with the VP schedule
of ``genlab.engine.diffusion`` (:math:`x_t = a(t)\,x_0 + \sqrt{v(t)}\,\varepsilon`, t = 0
data, t = 1 noise) and t ~ U[t_min, 1],

.. math:: L = \mathbb E\,\lVert\hat\varepsilon_\theta(x_t, t, y) - \varepsilon\rVert^2 .

Samplers go from t = 1 to t = 0 on the uniform grid :math:`t_i = 1 - i/N`: DDIM (η = 0, Song,
Meng & Ermon 2021) and ancestral DDPM (Ho et al. 2020, eqs. 6–7), each step through
:math:`\hat x_0 = (x_t - \sqrt{v_t}\,\hat\varepsilon)/a_t` clipped to the data range [−1, 1]
(Ho et al.'s ``clip_denoised``); the last step lands on :math:`\hat x_0`.

**Flow matching** (Lipman et al. 2023; Liu et al. 2023, rectified flow): straight paths
:math:`x_t = (1 - t)\,x_0 + t\,x_1`, x₀ ~ N(0, I) noise, x₁ data, t ~ U[0, 1],

.. math:: L = \mathbb E\,\lVert\hat v_\theta(x_t, t, y) - (x_1 - x_0)\rVert^2 ,

sampled by Euler or midpoint steps from t = 0 to 1.

**Guidance** (Ho & Salimans 2022, eq. 6 with their 1 + w written w, as in the guidance lab):
:math:`\hat\varepsilon_w = \hat\varepsilon(\varnothing) + w\,[\hat\varepsilon(y) -
\hat\varepsilon(\varnothing)]`, and the same on velocities.

A sampler records states at *progress* fractions p in [0, 1] (``path_at``): the state after
round(p·N) of its N steps, so p = 0 is the starting noise and p = 1 the output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from genlab.engine.diffusion import VPSchedule

__all__ = ["Diffusion", "Flow", "Predict", "guided_predictor", "path_indices"]

#: ``predict(x, t)``: x (B, C, H, W), t (B,) -> ε̂ or v̂, (B, C, H, W).
Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guided_predictor(net: nn.Module, y: torch.Tensor | None, w: float,
                     null_label: int) -> Predict:
    """The guided prediction of ``net`` for labels y (B,) at weight w.

    y None (or an unconditional net) uses the null label; w = 0 is then the same call as
    y None and w = 1 the plain conditional call (exactly, not up to rounding); other w
    evaluate both halves in one pass on the stacked batch [x; x] with labels [∅; y]."""
    if y is None or w == 0.0:
        return lambda x, t: net(x, t, None).float()
    if w == 1.0:
        return lambda x, t: net(x, t, y).float()

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        null = torch.full_like(y, null_label)
        out = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([null, y])).float()
        uncond, cond = out.chunk(2)
        return uncond + w * (cond - uncond)

    return predict


def path_indices(path_at: Sequence[float], steps: int) -> list[int]:
    """Step indices 0..steps for progress fractions in [0, 1] (ValueError outside)."""
    p = np.asarray(list(path_at), dtype=np.float64)
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("path_at times must be in [0, 1]")
    return [int(round(float(v) * steps)) for v in p]


def _record(states: dict[int, torch.Tensor], i: int, x: torch.Tensor, want: set[int]) -> None:
    if i in want:
        states[i] = x.detach().clone()


class Diffusion:
    """ε-prediction diffusion on ``VPSchedule(kind=schedule)``; samplers "ddim", "ddpm"."""

    name = "diffusion"
    samplers = ("ddim", "ddpm")

    def __init__(self, schedule: str = "linear", t_min: float = 1e-3) -> None:
        self.schedule = VPSchedule(kind=schedule)  # type: ignore[arg-type]
        self.t_min = float(t_min)

    def _marginal(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, v = self.schedule.marginal(np.asarray(t, dtype=np.float64))
        return np.asarray(a), np.sqrt(np.maximum(np.asarray(v), 0.0))

    def loss(self, net: nn.Module, x1: torch.Tensor, y: torch.Tensor | None,
             g: torch.Generator) -> torch.Tensor:
        """Batch loss for data x1 (B, C, H, W) with labels y (already dropped to ∅ where
        chosen); draws t then ε from g."""
        b = x1.shape[0]
        t = self.t_min + (1.0 - self.t_min) * torch.rand(b, generator=g, dtype=torch.float64)
        eps = torch.randn(x1.shape, generator=g).to(x1.device)
        a, s = (torch.as_tensor(z, dtype=torch.float32, device=x1.device)[:, None, None, None]
                for z in self._marginal(t.numpy()))
        out = net(a * x1 + s * eps, t.to(x1.device, torch.float32), y)
        return ((out.float() - eps) ** 2).mean()

    def sample(self, predict: Predict, noise: torch.Tensor, steps: int, sampler: str,
               g: torch.Generator, keep: Sequence[int] = ()
               ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """From x = noise at t = 1 to the output in [−1, 1] in ``steps`` steps; also the
        states after the step indices in ``keep`` (0 = noise, steps = output).  DDPM draws
        its noise from g."""
        ts = np.linspace(1.0, 0.0, steps + 1)
        a, s = self._marginal(ts)
        want, states = set(keep), {}
        x = noise.float()
        _record(states, 0, x, want)
        for i in range(steps):
            a0, s0, a1, s1 = float(a[i]), float(s[i]), float(a[i + 1]), float(s[i + 1])
            tt = torch.full((x.shape[0],), float(ts[i]), device=x.device)
            eps = predict(x, tt)
            x0 = ((x - s0 * eps) / a0).clamp(-1.0, 1.0)
            eps = (x - a0 * x0) / s0  # the noise that the clipped x̂0 implies
            if sampler == "ddim":
                x = a1 * x0 + s1 * eps
            else:  # ancestral: the Gaussian posterior q(x_s | x_t, x̂0)
                alpha = a0 / a1
                beta = max(s0 * s0 - alpha * alpha * s1 * s1, 0.0)
                mean = (a1 * beta / (s0 * s0)) * x0 + (alpha * s1 * s1 / (s0 * s0)) * x
                z = torch.randn(x.shape, generator=g).to(x.device)
                x = mean + (s1 * np.sqrt(beta) / s0) * z if i < steps - 1 else mean
            if i == steps - 1:
                x = x.clamp(-1.0, 1.0)
            _record(states, i + 1, x, want)
        return x, states


class Flow:
    """Flow matching on straight paths from N(0, I) (t = 0) to the data (t = 1); samplers
    "euler", "midpoint"."""

    name = "flow"
    samplers = ("euler", "midpoint")

    def loss(self, net: nn.Module, x1: torch.Tensor, y: torch.Tensor | None,
             g: torch.Generator) -> torch.Tensor:
        """Batch loss for data x1 (B, C, H, W) with labels y; draws t then x0 from g."""
        b = x1.shape[0]
        t = torch.rand(b, generator=g).to(x1.device)
        x0 = torch.randn(x1.shape, generator=g).to(x1.device)
        tt = t[:, None, None, None]
        out = net((1.0 - tt) * x0 + tt * x1, t, y)
        return ((out.float() - (x1 - x0)) ** 2).mean()

    def sample(self, predict: Predict, noise: torch.Tensor, steps: int, sampler: str,
               g: torch.Generator, keep: Sequence[int] = ()
               ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Integrate dx/dt = v̂(x, t) from x = noise at t = 0 to t = 1 (output clipped to
        [−1, 1]); the states after the step indices in ``keep``.  g is unused (no noise)."""
        want, states = set(keep), {}
        x = noise.float()
        _record(states, 0, x, want)
        dt = 1.0 / steps
        for i in range(steps):
            t = torch.full((x.shape[0],), i * dt, device=x.device)
            if sampler == "euler":
                x = x + dt * predict(x, t)
            else:
                x_mid = x + 0.5 * dt * predict(x, t)
                x = x + dt * predict(x_mid, t + 0.5 * dt)
            if i == steps - 1:
                x = x.clamp(-1.0, 1.0)
            _record(states, i + 1, x, want)
        return x, states
