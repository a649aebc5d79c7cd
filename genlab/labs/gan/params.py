"""The GAN lab's parameters, named series and pacing constants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.engine.datasets import DATASETS
from genlab.engine.gan import LOSSES
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, Series
from genlab.labs.params import Choice, Flag, Range

MODES = ("2d", "images")
IMAGE_DATA = ("digits", "sprites")
TRAIN = ("both", "D only", "G only")
TRAIN_ENGINE = {"both": "both", "D only": "D", "G only": "G"}  # GANTrainer.step's names

# One look per thing: the data, the generator (its samples, its loss, its manifold dashed),
# the discriminator (its loss; its output is the grey heatmap), G's gradients on the fakes,
# and the floor of the sliced W2 (two independent draws of the data's law).
DATA, GEN, DISC, GRAD, MANIFOLD, FLOOR = "data", "G", "D", "G's gradient", "manifold", "floor"
SERIES = (Series(DATA, 2), Series(GEN, 4), Series(DISC, 0), Series(GRAD, 3),
          Series(MANIFOLD, 4, dashed=True), Series(FLOOR, INK, dashed=True))

# Pacing of a training run: the first iterations one per frame in slow motion, then
# ``steps_per_frame``; a run ends at ``steps`` or once the sliced W2 has levelled off.
RAMP_FRAMES = 40
SLOW = 2.0
HOLD_START = 1.5
HOLD_END = 2.0
STAGE_HOLD = 0.9  # seconds on each stage of an iteration in slow motion
FLAT_ITERS = 300  # iterations per Plateau window of the smoothed sliced W2 ...
FLAT_WINDOW = 10  # ... and at least this many frames
FLAT_RTOL = 0.04
MIN_ITERS = 800

_2D: Any = ("mode", ("2d",))
_IMG: Any = ("mode", ("images",))


@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "2d: a GAN on points of the plane (GAN Lab's views); images: a DCGAN on "
        "digits or sprites")] = "2d"
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the real data: a toy set (8gaussians is the ring of 8 Gaussians), "
        "or the points you drew", when=_2D)] = "8gaussians"
    n_points: Annotated[int, Range(
        100, 20_000, "how many real points to draw", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (8gaussians: each mode's std is 2 × "
        "this)", step=0.01, when=("dataset", DATASETS))] = 0.05
    image_data: Annotated[str, Choice(
        IMAGE_DATA, "digits: scikit-learn's 8×8 digits; sprites: generated 32×32 shapes",
        when=_IMG, label="images")] = "digits"
    loss: Annotated[str, Choice(
        LOSSES, "non-saturating: G minimises −log D(G(z)); minimax: G minimises log(1 − "
        "D(G(z))), which saturates; least-squares: squared errors to targets 1 and 0; "
        "wgan-gp: a critic with a gradient penalty; hinge: margins at ±1")] = "non-saturating"
    latent: Annotated[str, Choice(
        ("gaussian", "uniform"), "the latent prior p_z: N(0, I) or uniform on [−1, 1]^k")] \
        = "gaussian"
    latent_dim: Annotated[int, Range(
        1, 2, "dimension k of the latent z (1: G draws a curve; 2: G warps a sheet)",
        when=_2D, label="latent dim")] = 2
    hidden: Annotated[int, Range(
        8, 256, "width of the hidden layers of G and D", step=8, when=_2D)] = 64
    depth: Annotated[int, Range(1, 4, "hidden layers of G and D", when=_2D)] = 2
    width: Annotated[int, Range(
        8, 128, "channels of the DCGAN's first convolution (doubled at each halving)",
        step=8, when=_IMG)] = 32
    opt_d: Annotated[str, Choice(
        ("adam", "sgd"), "the discriminator's optimiser", label="D optimiser")] = "adam"
    lr_d: Annotated[float, Range(
        1e-5, 0.1, "the discriminator's learning rate", log=True, live=True,
        label="D learning rate")] = 1e-3
    opt_g: Annotated[str, Choice(
        ("adam", "sgd"), "the generator's optimiser", label="G optimiser")] = "adam"
    lr_g: Annotated[float, Range(
        1e-5, 0.1, "the generator's learning rate", log=True, live=True,
        label="G learning rate")] = 1e-3
    d_steps: Annotated[int, Range(
        1, 10, "discriminator steps per generator step", live=True,
        label="D steps per G step")] = 1
    train: Annotated[str, Choice(
        TRAIN, "which player learns: both (alternating), D only (G frozen) or G only "
        "(D frozen)", live=True)] = "both"
    train_from: Annotated[int, Range(
        0, 100_000, "both players learn up to this iteration, then only the one chosen",
        step=10, live=True, when=("train", ("D only", "G only")),
        label="from iteration")] = 0
    batch_size: Annotated[int, Range(
        16, 1024, "real points (and fakes) per step", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        10, 100_000, "most training iterations in the run (one iteration: the D steps, "
        "then one G step); a 2D run ends sooner once the sliced W₂ has levelled off",
        step=10, live=True, label="iterations")] = 3000
    steps_per_frame: Annotated[int, Range(
        1, 200, "iterations between two frames once training is under way", live=True,
        label="iterations / frame")] = 10
    slow_motion: Annotated[bool, Flag(
        "show every iteration stage by stage: G samples, D scores, losses, D's update and "
        "G's gradients, G's update", live=True, when=_2D, label="slow motion")] = False
    slow_from: Annotated[int, Range(
        0, 100_000, "train at full speed up to this iteration, then slow down", step=10,
        live=True, when=("slow_motion", (True,)), label="slow from iteration")] = 0
    seed: Annotated[int, Range(
        0, 2**31 - 1, "seed of the data, the weights, the batches and the latent draws")] = 0


LIVE = ("lr_d", "lr_g", "d_steps", "train", "train_from", "batch_size", "steps", "steps_per_frame",
        "slow_motion", "slow_from")


def who_learns(p: Params, done: int) -> str:
    """``p.train`` from iteration ``p.train_from`` on, "both" before."""
    return p.train if done >= p.train_from else "both"
