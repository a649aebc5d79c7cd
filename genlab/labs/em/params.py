"""The EM lab's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.engine import gmm
from genlab.engine.datasets import DATASETS
from genlab.labs.data import DATA_CHOICES
from genlab.labs.params import Choice, Flag, Range

INITS = ("k-means++", "random", "clicked")
DENSITIES = ("heatmap", "contours", "none")
OVERFIT_K = 100

# ``when`` compares with the other field's value, here a bool.
_ADAM: Any = ("compare_adam", (True,))
_NOT_OVERFIT: Any = ("overfit", (False,))


@dataclass(frozen=True)
class Params:
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the points to fit: a toy data set, or the points you drew")] = "8gaussians"
    n_points: Annotated[int, Range(
        10, 100_000, "how many data points to draw from the data set", step=10,
        when=("dataset", DATASETS), label="points")] = 600
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    k: Annotated[int, Range(
        1, 20, "number of mixture components K (with init = clicked: one per click)",
        when=_NOT_OVERFIT, label="K")] = 8
    overfit: Annotated[bool, Flag(
        f"use K = {OVERFIT_K} components to show over-fitting")] = False
    init: Annotated[str, Choice(
        INITS, "initial means: k-means++ (spread out by D² sampling), random data points, "
        "or the points you clicked with the Place tool")] = "k-means++"
    covariance: Annotated[str, Choice(
        gmm.COVARIANCE_TYPES, "shape of each component: full ellipses, axis-aligned (diag) "
        "or circles (spherical)")] = "full"
    reg_covar: Annotated[float, Range(
        1e-6, 1.0, "ε added to every covariance's diagonal, so that a component collapsing "
        "onto a point keeps a finite density", log=True, label="ε (reg covar)")] = 1e-3
    n_iter: Annotated[int, Range(
        1, 500, "how many EM iterations to run (it stops early once converged)",
        label="iterations")] = 60
    density: Annotated[str, Choice(
        DENSITIES, "how to show the mixture density p(x)", live=True)] = "heatmap"
    compare_adam: Annotated[bool, Flag(
        "fit the same mixture by gradient ascent (Adam, full covariances) beside EM, from the "
        "same start (loads torch)", label="compare with Adam")] = False
    adam_lr: Annotated[float, Range(
        1e-3, 0.5, "Adam's step size", log=True, live=True, when=_ADAM,
        label="Adam step size")] = 0.05
    adam_steps_per_iter: Annotated[int, Range(
        1, 50, "Adam steps taken per EM iteration", when=_ADAM,
        label="Adam steps / iteration")] = 5
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data set and of the initial means")] = 5
