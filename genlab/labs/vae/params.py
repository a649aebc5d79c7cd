"""The VAE lab's parameters, its named series and its pacing constants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.engine.datasets import DATASETS
from genlab.labs.data import DATA_CHOICES
from genlab.labs.frame import INK, MUTED, Series
from genlab.labs.params import Choice, Range

MODES = ("2d", "images")
DECODERS = ("mlp", "linear")  # = genlab.engine.vae.DECODERS (no torch import here)
SCHEDULES = ("constant", "sweep")
IMAGE_DATA = ("digits", "sprites")
DEVICES = ("auto", "cpu", "cuda", "mps")

_2D: Any = ("mode", ("2d",))
_IMAGES: Any = ("mode", ("images",))

# One look per thing, in every panel, key and curve of both modes.  The reconstruction term's
# curve has the colour of the reconstructions f(μ(x)) in the data panel; the KL term's is
# its own; the posteriors q(z|x) of the marked points are pink in both the data and the
# latent panel.
DATA, RECON, SAMPLES, DECODER = "data", "reconstruction", "samples", "decoder mean f(z)"
POSTERIOR, AGGREGATE, PRIOR = "q(z|x)", "aggregate posterior q(z)", "prior N(0, I)"
ELBO, KL, LOGP, PPCA = "ELBO", "KL", "log p(x)", "PPCA max"
RD = "(rate, distortion) path"
SERIES = (
    Series(DATA, 9), Series(RECON, 3), Series(SAMPLES, 14), Series(DECODER, 0),
    Series(POSTERIOR, 4), Series(AGGREGATE, 17), Series(PRIOR, MUTED, dashed=True),
    Series(ELBO, INK), Series(KL, 8), Series(LOGP, 12, dashed=True),
    Series(PPCA, INK, dashed=True), Series(RD, 2, dashed=True),
)
BOUND_GROUP = "bound (nats per point)"  # ELBO, log p(x), PPCA max
TERMS_GROUP = "ELBO terms (nats per point)"  # reconstruction, KL
IMAGE_BOUND = "ELBO (nats per image)"
IMAGE_TERMS = "ELBO terms (nats per image)"

# β sweep (rate–distortion): a warm-up at the first β, then STAGES equal stages, β rising
# geometrically from ``beta`` to ``beta_end``
SWEEP_WARM = 0.4  # fraction of the run's steps spent at the first β
STAGES = 8


@dataclass(frozen=True)
class Params:
    mode: Annotated[str, Choice(
        MODES, "2d: points on the plane with a 1D or 2D latent; images: a convolutional VAE "
        "on digits or sprites")] = "2d"
    dataset: Annotated[str, Choice(
        DATA_CHOICES, "the points to model: a toy data set, or the points you drew",
        when=_2D)] = "moons"
    n_points: Annotated[int, Range(
        100, 20_000, "how many points to draw from the data set", step=100,
        when=("dataset", DATASETS), label="points")] = 2000
    noise: Annotated[float, Range(
        0.0, 1.0, "how much the data set is blurred (0: its exact structure)", step=0.01,
        when=("dataset", DATASETS))] = 0.1
    latent_dim: Annotated[int, Range(
        1, 2, "dimension L of the latent z: 1 draws the decoder's mean f(z) as a curve, 2 as "
        "a sheet (a warped grid)", when=_2D, label="latent dimension")] = 1
    decoder: Annotated[str, Choice(
        DECODERS, "mlp: encoder and decoder are MLPs; linear: both maps linear, whose best "
        "ELBO is the maximum likelihood of probabilistic PCA", when=_2D)] = "mlp"
    hidden: Annotated[int, Range(
        4, 256, "width of the hidden layers of the encoder's and the decoder's MLPs", step=4,
        when=("decoder", ("mlp",)), label="hidden width")] = 64
    depth: Annotated[int, Range(
        1, 4, "hidden layers of each MLP", when=("decoder", ("mlp",)))] = 2
    s_start: Annotated[float, Range(
        0.01, 2.0, "the decoder's noise s at the start, as a fraction of the data's spread: "
        "near 1, N(f(z), s²I) already explains the data as noise and training may stay "
        "there, ignoring z", log=True, when=_2D, label="s at start")] = 0.1
    beta: Annotated[float, Range(
        0.01, 100.0, "β weighs the KL term: training maximises E log p(x|z) − β·KL (β = 1: "
        "the ELBO; large β: posterior collapse); with the sweep, the first β", log=True,
        live=True, label="β")] = 1.0
    schedule: Annotated[str, Choice(
        SCHEDULES, "constant: β stays at the slider's value; sweep: after a warm-up, β rises "
        "geometrically to β end in equal stages, tracing the rate–distortion curve",
        when=_2D)] = "constant"
    beta_end: Annotated[float, Range(
        0.01, 100.0, "the last β of the sweep", log=True, live=True,
        when=("schedule", ("sweep",)), label="β end")] = 10.0
    image_data: Annotated[str, Choice(
        IMAGE_DATA, "digits: scikit-learn's 8×8 digits; sprites: 32×32 shapes (square, "
        "ellipse, heart) at 6 scales, 40 rotations and 32×32 positions", when=_IMAGES,
        label="images")] = "digits"
    image_latent: Annotated[int, Range(
        2, 10, "dimension of the images' latent z (2: a latent map and a decoded grid; more: "
        "traversals of each coordinate)", when=_IMAGES, label="latent dimension")] = 2
    width: Annotated[int, Range(
        8, 64, "channels of the first convolution (doubled below)", step=8, when=_IMAGES,
        label="conv width")] = 16
    lr: Annotated[float, Range(
        1e-4, 0.05, "Adam's learning rate", log=True, live=True,
        label="learning rate")] = 5e-3
    batch_size: Annotated[int, Range(
        16, 2048, "points or images per minibatch", step=16, live=True,
        label="batch size")] = 256
    steps: Annotated[int, Range(
        100, 100_000, "most Adam steps in the run (a constant-β 2D run ends sooner once the "
        "ELBO has levelled off)", step=100, live=True)] = 4000
    steps_per_frame: Annotated[int, Range(
        1, 200, "Adam steps between two frames once training is under way (the first "
        "frames show one step each)", live=True, label="steps / frame")] = 10
    device: Annotated[str, Choice(
        DEVICES, "where the image VAE trains: auto picks CUDA, then Apple's MPS, then the "
        "CPU", when=_IMAGES)] = "auto"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "random seed of the data, the weights, the minibatches and the "
        "noise")] = 0


LIVE = ("beta", "beta_end", "lr", "batch_size", "steps", "steps_per_frame")
