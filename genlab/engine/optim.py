"""Small pieces shared by the engines that train with torch optimisers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


class LiveLearningRate:
    """An ``lr`` attribute read from and written to ``self.optimizer``'s parameter groups.

    Labs change the step size between steps (a live parameter); the optimiser holds the one
    value, so there is no copy to keep in step.
    """

    optimizer: Any

    @property
    def lr(self) -> float:
        """The optimiser's step size; setting it takes effect at the next step."""
        return float(self.optimizer.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = float(value)


def guarded_steps(optimizer: Any, loss_fn: Callable[[], Any], k: int,
                  clip: Callable[[], Any] | None = None,
                  after: Callable[[], Any] | None = None) -> np.ndarray:
    """Up to k optimiser steps, each on a fresh ``loss_fn()`` (a scalar torch tensor, e.g. a
    new minibatch's loss); returns their loss values (k of them, or fewer).

    It stops at the first non-finite loss *without* applying that update, so the weights
    stay the last good ones and the caller can report the divergence; the number of steps
    applied is the number of finite values returned.  ``clip`` (e.g. gradient-norm
    clipping) runs between the backward pass and the step; ``after`` (e.g. an EMA update of
    the weights) after each step applied.
    """
    losses = []
    for _ in range(int(k)):
        loss = loss_fn()
        value = float(loss.detach())
        losses.append(value)
        if not math.isfinite(value):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            clip()
        optimizer.step()
        if after is not None:
            after()
    return np.array(losses)


def applied(losses: np.ndarray) -> int:
    """How many of ``guarded_steps``' losses were applied (all but a final non-finite one)."""
    return int(len(losses) - (len(losses) > 0 and not np.isfinite(losses[-1])))
