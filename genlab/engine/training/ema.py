r"""Exponential moving average of a net's weights, with torch's ``AveragedModel``.

.. math:: \bar\theta_k = d_k\,\bar\theta_{k-1} + (1 - d_k)\,\theta_k,\qquad
          d_k = \min\!\Big(d,\ \frac{1 + k}{10 + k}\Big)

(k = updates so far; :math:`\bar\theta_0 = \theta_0`).  The warm-up :math:`d_k` is the one of
TensorFlow's ``ExponentialMovingAverage(num_updates=…)``: with a fixed d = 0.999 the average
would still hold :math:`0.999^{1000} \approx 37\,\%` of the random initial weights after 1000
steps, while the short CPU runs of the labs take a few thousand steps in all.  ``warmup=False``
gives ``torch.optim.swa_utils.get_ema_multi_avg_fn(d)`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["ema_model", "warm_ema_multi_avg_fn"]


def warm_ema_multi_avg_fn(decay: float) -> Callable[..., None]:
    """A ``multi_avg_fn`` for ``AveragedModel``: EMA with the warm-up decay above."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema decay must be in [0, 1], got {decay}")

    @torch.no_grad()
    def update(ema: list[torch.Tensor], current: list[torch.Tensor],
               n_averaged: torch.Tensor) -> None:
        k = float(n_averaged)
        d = min(decay, (1.0 + k) / (10.0 + k))
        if torch.is_floating_point(ema[0]):
            torch._foreach_lerp_(ema, current, 1.0 - d)
        else:  # integer buffers (none in our nets): keep them in step with the model
            for e, c in zip(ema, current, strict=True):
                e.copy_(c)

    return update


def ema_model(net: nn.Module, decay: float, warmup: bool = True) -> AveragedModel:
    """An ``AveragedModel`` of ``net`` (a deep copy, parameters and buffers averaged) updated
    by ``.update_parameters(net)`` after each optimiser step."""
    fn = warm_ema_multi_avg_fn(decay) if warmup else get_ema_multi_avg_fn(decay)
    ema = AveragedModel(net, multi_avg_fn=fn, use_buffers=True)
    ema.requires_grad_(False)
    return ema
