"""Lab "vae": variational auto-encoders, trained live by the reparameterised ELBO.

2D (``mode = "2d"``, ``plane.py``): points of the plane (a gallery data set or drawn points)
with a 1D or 2D latent; encoder q(z|x) = N(μ(x), diag σ²(x)) and decoder p(x|z) = N(f(z), s² I),
s² learned, both MLPs or both linear (``genlab.engine.vae.VAETrainer``).  Four panels:

* data space: the data, their reconstructions f(μ(x)) joined to them, the decoder's mean
  curve (1D latent) or sheet (2D latent) f(z), and five marked points;
* samples x = f(z) + s·ε of fixed draws z ~ N(0, I), ε ~ N(0, I), over the data;
* latent space: the marked points' posteriors q(z|x) (ellipses, or mean ± 2σ bars), the
  aggregate posterior q(z) = mean over the data of q(z|x), and the prior N(0, I);
* the rate–distortion plane: rate R = KL against distortion D = −E log p(x|z) over training,
  with the line D + β·R = const through the current point (Alemi et al. 2018).

Metrics against the training step: the ELBO with log p(x) (exact for the linear model, else
importance-sampled, Burda et al. 2016) and, for the linear model, PPCA's maximum
log-likelihood, the ceiling its ELBO reaches (Tipping & Bishop 1999; Lucas et al. 2019); and
the ELBO's two terms.  β is live (the β-VAE, Higgins et al. 2017), or swept in stages to trace
the rate–distortion curve.  A constant-β run ends once its ELBO has levelled off.

Images (``mode = "images"``, ``images.py``): a convolutional VAE on digits or sprites
(``genlab.engine.images.vae``), kept in the store of trained models: reconstructions,
samples, and for a 2D latent the latent map of held-out digits coloured by class and the
decoded latent grid; for a larger latent, traversals of its most used coordinates, each
matched to the sprite factor (position, scale, shape) it follows most.
"""

from __future__ import annotations

from genlab.labs.base import FrameGenerator, LabInfo, RunContext
from genlab.labs.vae.params import SERIES, Params

__all__ = ["LAB", "SERIES", "Params", "run"]


def run(params: Params, ctx: RunContext) -> FrameGenerator:
    """Frames of a VAE in training: on the plane, or on images."""
    if params.mode == "images":
        from genlab.labs.vae.images import run_images

        return (yield from run_images(params, ctx))
    from genlab.labs.vae.plane import run_2d

    return (yield from run_2d(params, ctx))


LAB = LabInfo(
    name="vae",
    title="Variational auto-encoders",
    description="Train a VAE by the reparameterised ELBO on 2D points or images: "
                "reconstructions, the decoder's curve or sheet, posteriors against the prior, "
                "β and the rate–distortion trade-off, posterior collapse, and the linear case "
                "reaching probabilistic PCA.",
    params=Params,
    run=run,
    takes_data=True,
    fps=20.0,
    series=SERIES,
)
