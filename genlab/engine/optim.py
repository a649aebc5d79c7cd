"""Small pieces shared by the engines that train with torch optimisers."""

from __future__ import annotations

from typing import Any


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
