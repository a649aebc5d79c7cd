"""The data a lab trains on: a gallery dataset, or the points the user drew."""

from __future__ import annotations

import numpy as np

from genlab.engine.datasets import DATASETS, make_dataset
from genlab.labs.base import LabError, RunContext

DATA_CHOICES: tuple[str, ...] = (*DATASETS, "drawn")
NO_DRAWN = ("No drawn points yet: choose the Paint tool (P) and drag on the canvas, "
            "or load a CSV/NPY file.")


def lab_data(dataset: str, n: int, noise: float, seed: int,
             ctx: RunContext) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) and integer labels (n,) for a lab.

    For "drawn" the user's points are used as they are (n and noise ignored), labelled with
    the colour they were painted in (0 when the context has no labels); LabError if there
    are none.
    """
    if dataset == "drawn":
        if ctx.drawn is None or len(ctx.drawn) == 0:
            raise LabError(NO_DRAWN)
        x = np.asarray(ctx.drawn, dtype=np.float64).reshape(-1, 2)
        labels = ctx.drawn_labels
        if labels is None or len(labels) != len(x):
            return x, np.zeros(len(x), dtype=np.int64)
        return x, np.asarray(labels, dtype=np.int64).copy()
    return make_dataset(dataset, n, noise, seed)
