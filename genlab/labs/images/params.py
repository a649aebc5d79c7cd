"""The images lab's parameters and named series."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from genlab.labs.frame import INK, MUTED, Series
from genlab.labs.params import Choice, Flag, Range

DATA = ("digits", "sprites", "file")
MODELS = ("diffusion", "flow")
DEVICES = ("auto", "cpu", "cuda", "mps")
_DIFFUSION: Any = ("model", ("diffusion",))
_FLOW: Any = ("model", ("flow",))

LOSS, LOSS_AVG = "loss", "moving average"
FD_RATIO, ACCURACY = "FD ÷ floor", "accuracy at w"
SERIES = (Series(LOSS, MUTED), Series(LOSS_AVG, INK), Series(FD_RATIO, 3), Series(ACCURACY, 2))


@dataclass(frozen=True)
class Params:
    data: Annotated[str, Choice(
        DATA, "digits: scikit-learn's 8×8 digits (10 classes); sprites: generated 32×32 "
        "shapes (square, ellipse, heart) at 6 scales, 40 rotations, 32×32 positions; file: "
        "images opened with File → Open image data (IDX, .npz or a folder)")] = "digits"
    model: Annotated[str, Choice(
        MODELS, "diffusion: ε-prediction on the VP schedule, DDIM or DDPM sampling; flow: "
        "flow matching on straight paths, Euler or midpoint sampling")] = "diffusion"
    width: Annotated[int, Range(
        8, 128, "the network's width (an MLP for 8×8 images, a U-Net above)", step=8)] = 32
    conditional: Annotated[bool, Flag(
        "class-conditional with label dropout, so classifier-free guidance works")] = True
    p_uncond: Annotated[float, Range(
        0.0, 0.5, "label dropout: the fraction of training labels replaced by the null "
        "label", step=0.01, label="label dropout")] = 0.1
    lr: Annotated[float, Range(
        1e-4, 1e-2, "Adam's learning rate", log=True, live=True, label="learning rate")] = 2e-3
    batch_size: Annotated[int, Range(
        16, 512, "images per training step", step=16, label="batch size")] = 128
    train_steps: Annotated[int, Range(
        100, 200_000, "training steps in the run (raise it to train on)", step=100,
        live=True, label="training steps")] = 6000
    steps_per_frame: Annotated[int, Range(
        1, 200, "training steps between two frames", live=True,
        label="steps / frame")] = 10
    diffusion_sampler: Annotated[str, Choice(
        ("ddim", "ddpm"), "DDIM (deterministic, η = 0) or DDPM (ancestral, with noise)",
        live=True, when=_DIFFUSION, label="sampler")] = "ddim"
    flow_sampler: Annotated[str, Choice(
        ("euler", "midpoint"), "Euler or midpoint steps of the learned ODE", live=True,
        when=_FLOW, label="sampler")] = "euler"
    sample_steps: Annotated[int, Range(
        1, 200, "sampler steps from noise to image", live=True, label="sampler steps")] = 40
    guidance: Annotated[float, Range(
        0.0, 10.0, "guidance w: 0 unconditional, 1 conditional, above 1 guided", step=0.1,
        live=True, label="guidance w")] = 2.0
    label: Annotated[int, Range(
        -1, 19, "the class to sample (−1: one row per class)", live=True,
        label="class")] = -1
    device: Annotated[str, Choice(
        DEVICES, "where to train: auto picks CUDA, then Apple's MPS, then the CPU")] = "auto"
    seed: Annotated[int, Range(
        0, 2**31 - 1, "seed of the weights, the batches and the fixed sampling noise")] = 0

    @property
    def sampler(self) -> str:
        return self.diffusion_sampler if self.model == "diffusion" else self.flow_sampler


# what a trained model depends on (the store's key); the rest only changes how it is shown
MODEL_FIELDS = ("data", "model", "width", "conditional", "p_uncond", "batch_size", "seed",
                "device")
LIVE = ("lr", "train_steps", "steps_per_frame", "diffusion_sampler", "flow_sampler",
        "sample_steps", "guidance", "label")
