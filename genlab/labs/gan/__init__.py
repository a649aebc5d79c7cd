"""Lab "gan": generative adversarial networks, as GAN Lab (Kahng et al., VIS 2018) shows them
and beyond.

2D (``two_d.py``): a generator G (an MLP from a 1D or 2D latent, uniform or Gaussian) and a
discriminator D (an MLP) trained against each other live on gallery or drawn points, with SGD
or Adam for each at its own learning rate, D steps per G step, and D only, G only or both
learning.  The data plane shows the real points, G's samples, D's output as a heatmap (for
WGAN-GP the critic as a potential, with iso-lines), G's manifold (the latent grid warped by
G) and G's gradients as arrows on its samples; beside it the optimal discriminator
D*(x) = p_data / (p_data + p_g) where the data's density is known (the ring of 8 Gaussians,
the Gaussian; p_g by a kernel density estimate), the best hinge critic sign(p_data − p_g), or
else G's density itself.  Metrics against the training iteration: D's and G's losses, the
sliced W₂ to the data beside its floor, and on the ring the modes covered and the fraction of
high-quality samples (within 3σ of a mode; Metz et al. 2017).  Slow motion shows each
iteration in five stages: G samples → D scores → losses → D's update and G's gradients → G's
update.  Losses: minimax (saturating), non-saturating, least squares, WGAN-GP, hinge
(``genlab.engine.gan``).

Images (``images.py``): a DCGAN (``genlab.engine.images.gan``) on digits or sprites; a grid of
samples from fixed noise, their history over training, D's and G's losses, and the quality
measure of the image lab (Fréchet distance to held-out images over its floor; the classes a
classifier sees among the samples).
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.gan.params import SERIES, Params

__all__ = ["LAB", "Params", "SERIES", "run"]


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of a GAN in training."""
    if params.mode == "images":
        from genlab.labs.gan.images import run_images

        return (yield from run_images(params, ctx))
    from genlab.labs.gan.two_d import run_2d

    return (yield from run_2d(params, ctx))


LAB = LabInfo(
    name="gan",
    title="Generative adversarial networks",
    description="A generator and a discriminator trained against each other, as GAN Lab shows "
                "them: D's heatmap, G's manifold and gradients, the optimal D*, five losses, "
                "mode collapse and its cure, slow motion; and a DCGAN on images.",
    params=Params,
    run=run,
    takes_data=True,
    fps=20.0,
    series=SERIES,
)
