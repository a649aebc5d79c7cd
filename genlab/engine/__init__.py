"""Numerics with no GUI: datasets, Gaussian mixtures (EM and gradient ascent), and the other
generative models the labs animate.  numpy/scipy at import time; torch only inside the
functions that need it.  Import the submodules directly, e.g. ``from genlab.engine import gmm``.
"""
