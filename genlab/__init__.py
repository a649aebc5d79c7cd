"""genlab: a desktop visual lab for low-dimensional generative models."""

__version__ = "0.1.0"
