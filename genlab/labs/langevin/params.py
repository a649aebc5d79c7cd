"""The Langevin lab's parameters, its named series and its fixed geometry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import Series
from genlab.labs.params import Choice, Range

MODES = ("sample", "ebm")
TARGET_CHOICES = ("ring", "8gaussians", "mixture", "banana", "donut", "funnel", "fitted")
SAMPLERS = ("ula", "mala", "both")
INITS = ("uniform box", "one point", "wide gaussian", "exact p")
VIEWS = ("chains", "histograms")

# One look per thing across every preset: a sampler's chains, trails, histogram key and
# distance curve share its colour; the EBM's data are blue and its persistent chains pink
# (not ink: the unnamed contrastive-loss curve beside them is drawn in ink).
SERIES = (Series("ULA", 1), Series("MALA", 2), Series("data", 0), Series("chains", 4))

_SAMPLE: Any = ("mode", ("sample",))
_EBM: Any = ("mode", ("ebm",))


@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "sample: Langevin chains on a known density; ebm: train an energy-based model "
        "on data with persistent Langevin chains")] = "sample"
    target: Annotated[str, Choice(
        TARGET_CHOICES, "the density p to sample: ring (8 Gaussians on a circle of radius 3, "
        "std 0.3), 8gaussians (the gallery set's own mixture: radius 2.5, std 0.2), mixture (the "
        "engine's 3-component correlated mixture), banana, donut, Neal's funnel (x, v), or a "
        "mixture fitted by EM to a data set", when=_SAMPLE)] = "ring"
    fit_data: Annotated[str, Choice(
        DATA_CHOICES, "the points the fitted mixture is fitted to (2000 points of a gallery "
        "set at noise 0.1, or the points you drew)", when=("target", ("fitted",)),
        label="fit to")] = "moons"
    k: Annotated[int, Range(
        1, 20, "number of components K of the fitted mixture", when=("target", ("fitted",)),
        label="K")] = 8
    sampler: Annotated[str, Choice(
        SAMPLERS, "ula: unadjusted Langevin; mala: with a Metropolis–Hastings correction; "
        "both: side by side from the same start with the same noise", when=_SAMPLE)] = "ula"
    n_chains: Annotated[int, Range(
        1, 20_000, "how many independent chains (fading trails shown up to 100)",
        when=_SAMPLE, label="chains")] = 2000
    eta: Annotated[float, Range(
        1e-4, 1.0, "step size η of x ← x + η∇log p(x) + √(2η)ξ", log=True, live=True,
        when=_SAMPLE, label="step η")] = 0.02
    steps_per_frame: Annotated[int, Range(
        1, 100, "Langevin steps between two frames once the run is under way (the first "
        "frames show one step each, in slow motion; fewer for very many chains)", live=True,
        when=_SAMPLE, label="steps / frame")] = 4
    n_steps: Annotated[int, Range(
        10, 20_000, "most Langevin steps in the run (it ends sooner once the distance to p "
        "has levelled off)", step=10, live=True, when=_SAMPLE, label="steps")] = 800
    init: Annotated[str, Choice(
        INITS, "where the chains start: uniform over the panel, all at one point, a wide "
        "Gaussian around the panel's centre, or exact samples of p (then any drift away from "
        "p is the sampler's bias)", when=_SAMPLE)] = "uniform box"
    view: Annotated[str, Choice(
        VIEWS, "with both samplers: their chains over the energy, or their histograms",
        live=True, when=("sampler", ("both",)))] = "chains"
    # --- ebm
    ebm_data: Annotated[str, Choice(
        DATA_CHOICES, "the data the energy-based model learns", when=_EBM,
        label="data")] = "moons"
    n_points: Annotated[int, Range(
        100, 20_000, "how many data points", step=100, when=_EBM, label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred", step=0.01, when=_EBM)] = 0.1
    hidden: Annotated[int, Range(
        8, 256, "width of the energy MLP's three hidden layers (SiLU)", step=8, when=_EBM,
        label="hidden width")] = 64
    lr: Annotated[float, Range(
        1e-5, 0.1, "Adam's learning rate", log=True, live=True, when=_EBM,
        label="learning rate")] = 3e-3
    ebm_step: Annotated[float, Range(
        1e-4, 0.1, "step η of the chains' Langevin moves x ← x − η∇E(x) + √(2η)ξ, in "
        "standardised units", log=True, live=True, when=_EBM, label="Langevin η")] = 0.005
    k_steps: Annotated[int, Range(
        1, 200, "Langevin steps K of the persistent chains per training step", live=True,
        when=_EBM, label="K steps")] = 40
    alpha: Annotated[float, Range(
        0.0, 1.0, "weight α of the regulariser α(mean E(data)² + mean E(samples)²)",
        step=0.01, live=True, when=_EBM, label="α")] = 0.1
    reinit: Annotated[float, Range(
        0.0, 0.5, "fraction of the drawn chains restarted from uniform noise each step",
        step=0.01, live=True, when=_EBM, label="restart fraction")] = 0.05
    batch_size: Annotated[int, Range(
        16, 1024, "data points and chains per training step", step=16, live=True, when=_EBM,
        label="batch size")] = 256
    buffer: Annotated[int, Range(
        256, 10_000, "how many persistent chains (the replay buffer)", step=64, when=_EBM,
        label="chains")] = 2000
    train_steps: Annotated[int, Range(
        10, 50_000, "training steps in the run (raise it to train on)", step=10, live=True,
        when=_EBM, label="steps")] = 1500
    train_per_frame: Annotated[int, Range(
        1, 50, "training steps between two frames", live=True, when=_EBM,
        label="steps / frame")] = 2
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the starts, the noise, the data and the weights")] = 0
