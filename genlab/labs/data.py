"""The data a lab trains on: a gallery dataset, or the points the user drew."""

from __future__ import annotations

import numpy as np

from genlab.engine.datasets import DATASETS, make_dataset
from genlab.labs.base import LabError, RunContext
from genlab.labs.frame import Frame, message_frame

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


def data_or_message(dataset: str, n: int, noise: float, seed: int, ctx: RunContext,
                    lab: str, min_distinct: int = 1
                    ) -> tuple[np.ndarray, np.ndarray] | Frame:
    """``lab_data`` for a run that needs at least ``min_distinct`` distinct points: the
    points (float64, contiguous) and labels, or the message frame to show instead (no drawn
    points yet, or too few distinct ones).  A run does
    ``got = data_or_message(...); if isinstance(got, Frame): yield got; return``."""
    try:
        x, labels = lab_data(dataset, n, noise, seed, ctx)
    except LabError as e:
        return message_frame(f"{lab} · no data", str(e))
    x = np.ascontiguousarray(x, dtype=np.float64)
    distinct = len(np.unique(x, axis=0))
    if distinct < min_distinct:
        return message_frame(
            f"{lab} · too few points",
            f"The {lab} lab needs at least {min_distinct} distinct points; the data hold "
            f"{distinct}. Draw more points (over an area, not one spot) or choose a larger "
            "data set.")
    return x, labels
