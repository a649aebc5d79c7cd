"""EM time per iteration: genlab.engine.gmm.run_em vs scikit-learn's GaussianMixture.

Same data (N = 100k points from 8 anisotropic Gaussians in the plane), K = 8, full
covariances, the same initial parameters for both (random data points as means, uniform
weights, the data covariance everywhere: ``gmm.initial_state``), reg_covar 1e-6, a fixed
number of iterations.  scikit-learn gets ``weights_init``, ``means_init``,
``precisions_init``, ``max_iter=n``, ``tol=0`` and ``init_params="random_from_data"`` (its
cheapest initialiser, whose result the given parameters override); its fit time is divided by
n.  Ours is ``run_em`` with the same n.  Each is timed several times; the best counts.
"""

from __future__ import annotations

import warnings

import numpy as np

from benchmarks._common import best_of, headline, ms, table

N = 100_000
K = 8
N_ITER = 20
REPEATS = 3
REG = 1e-6
GOAL_RATIO = 1.0


def make_data(n: int = N, k: int = K, seed: int = 0) -> np.ndarray:
    """(n, 2) points from k anisotropic Gaussians with random centres and shapes."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-6, 6, (k, 2))
    a = rng.normal(scale=0.7, size=(k, 2, 2))
    chol = np.linalg.cholesky(a @ np.swapaxes(a, 1, 2) + 0.05 * np.eye(2))
    labels = rng.integers(0, k, n)
    z = rng.standard_normal((n, 2))
    return centres[labels] + np.einsum("nij,nj->ni", chol[labels], z)


def run() -> None:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    from genlab.engine import gmm

    x = make_data()
    init = gmm.initial_state(x, gmm.init_means(x, K, seed=1), reg_covar=REG)
    w0, m0, c0 = (np.array(a) for a in (init.weights, init.means, init.covariances))

    def ours():
        return gmm.run_em(x, w0, m0, c0, N_ITER, reg_covar=REG)

    def theirs():
        g = GaussianMixture(K, covariance_type="full", tol=0.0, reg_covar=REG,
                            max_iter=N_ITER, init_params="random_from_data",
                            weights_init=w0, means_init=m0,
                            precisions_init=np.linalg.inv(c0), random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            g.fit(x)
        return g

    ours()  # warm-up (first-call allocations, BLAS start-up)
    theirs()
    t_ours, states = best_of(ours, REPEATS)
    t_sk, g = best_of(theirs, REPEATS)
    last = states[-1]
    d_means = float(np.abs(last.means - g.means_).max())
    d_ll = abs(last.log_likelihood - float(g.score(x)))  # both: mean log p(x) at the end
    per_ours, per_sk = t_ours / N_ITER, t_sk / N_ITER
    ratio = per_ours / per_sk
    table(f"em: time per EM iteration, N={N:,}, K={K}, full covariances, {N_ITER} iterations, "
          f"best of {REPEATS}",
          ("implementation", "ms / iteration", f"total {N_ITER} it. ms"),
          [("genlab run_em", ms(per_ours), ms(t_ours)),
           (f"sklearn {sklearn.__version__} GaussianMixture.fit", ms(per_sk), ms(t_sk)),
           ("ratio ours / sklearn", f"{ratio:.2f}", "")],
          notes=(f"goal: ratio <= {GOAL_RATIO:.1f}",
                 f"same iterates? max |mean difference| after {N_ITER} iterations: "
                 f"{d_means:.1e}; |log-likelihood difference|: {d_ll:.1e}",
                 "sklearn's fit time includes its input checks, its (overridden) initialiser "
                 "and a final E-step; ours an initial E-step"))
    headline("em", "ms per EM iteration, ours", f"{per_ours * 1e3:.1f} ms")
    headline("em", "ms per EM iteration, sklearn", f"{per_sk * 1e3:.1f} ms")
    headline("em", "ratio ours / sklearn", f"{ratio:.2f}", f"<= {GOAL_RATIO:.1f}",
             ratio <= GOAL_RATIO)
