"""Langevin chains and EBM training: throughput, with references measured in the same run.

* Chains: ``run_chains`` (ULA) and ``run_chains_with_stats`` (MALA) on the engine's 3-component
  mixture, 10,000 chains x 100 steps, against a minimal inline numpy loop of the same update
  (the mixture score written with einsum, MALA's acceptance with the same formula).
* EBM: ``EBMTrainer.step`` (batch 256, K Langevin steps with autograd for ∇ₓE, one Adam step)
  in training steps per second, against a plain regression step of the same MLP (forward,
  MSE, backward, Adam on a batch of 256) as the reference.  torch runs on one thread, as in
  the app's worker.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from benchmarks._common import best_of, headline, ms, table

N_CHAINS = 10_000
N_STEPS = 100
ETA = 0.05
REPEATS = 3
EBM_STEPS = 20
BATCH = 256
K = 40


def _reference(target, x0: np.ndarray, mala: bool, seed: int = 0) -> np.ndarray:
    """The same ULA / MALA update written inline with einsum (the plain numpy way)."""
    w, mu, prec = target.weights, target.means, target.precisions
    log_norm = target._log_norm

    def parts(x):
        diff = x[:, None, :] - mu[None]
        pd = np.einsum("kij,nkj->nki", prec, diff)
        lj = log_norm[None] - 0.5 * np.einsum("nki,nki->nk", diff, pd)
        lse = logsumexp(lj, axis=1)
        r = np.exp(lj - lse[:, None])
        return lse, -np.einsum("nk,nki->ni", r, pd)

    del w
    rng = np.random.default_rng(seed)
    x = x0.copy()
    lp, g = parts(x)
    for _ in range(N_STEPS):
        xi = rng.standard_normal(x.shape)
        y = x + ETA * g + np.sqrt(2 * ETA) * xi
        if not mala:
            x = y
            lp, g = parts(x)
            continue
        lp_y, g_y = parts(y)
        log_a = (lp_y - lp + 0.5 * (xi * xi).sum(1)
                 - ((x - y - ETA * g_y) ** 2).sum(1) / (4 * ETA))
        ok = np.log(rng.random(len(x))) < log_a
        x = np.where(ok[:, None], y, x)
        g = np.where(ok[:, None], g_y, g)
        lp = np.where(ok, lp_y, lp)
    return x


def _chains() -> tuple[float, float]:
    from genlab.engine import langevin as lv

    target = lv.make_target("mixture")
    x0 = np.random.default_rng(0).uniform(-4, 4, (N_CHAINS, 2))
    rows = []
    ratios = []
    for name, mala in (("ULA", False), ("MALA", True)):
        def ours(mala=mala):
            return lv.run_chains_with_stats(target.grad_log_p, x0, ETA, N_STEPS,
                                            log_p=target.log_p, mala=mala, seed=0,
                                            every=N_STEPS)

        def ref(mala=mala):
            return _reference(target, x0, mala)

        ours()
        t_ours, _ = best_of(ours, REPEATS)
        t_ref, _ = best_of(ref, REPEATS)
        steps = N_CHAINS * N_STEPS
        rows.append((f"run_chains {name}", ms(t_ours), f"{steps / t_ours / 1e6:.2f}",
                     f"{t_ours / t_ref:.2f}"))
        rows.append((f"inline numpy {name} (reference)", ms(t_ref),
                     f"{steps / t_ref / 1e6:.2f}", ""))
        ratios.append(t_ours / t_ref)
        headline("langevin", f"{name}: {N_CHAINS // 1000}k chains x {N_STEPS} steps",
                 f"{t_ours * 1e3:.0f} ms")
    table(f"langevin: chains on the 3-component mixture, {N_CHAINS:,} chains x {N_STEPS} "
          f"steps, η = {ETA}, best of {REPEATS}",
          ("implementation", "ms", "M chain-steps/s", "ratio ours / ref"), rows,
          notes=("reference: the same update in an inline loop with einsum for the score",))
    return ratios[0], ratios[1]


def _ebm() -> float:
    import torch

    from genlab.engine.datasets import make_dataset
    from genlab.engine.ebm import EBMTrainer, EnergyMLP

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, _ = make_dataset("moons", 2000, 0.1, 0)
        x = (x - x.mean(0)) / x.std()
        tr = EBMTrainer(x, hidden=64, batch_size=BATCH, k_steps=K, step_size=0.005,
                        buffer=2000, box=(-3.0, 3.0), seed=0)
        tr.step(2)  # warm-up
        t_ebm, _ = best_of(lambda: tr.step(EBM_STEPS), REPEATS)

        model = EnergyMLP(64, 3, seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.randn(len(x))
        gen = torch.Generator().manual_seed(0)

        def regression():
            for _ in range(EBM_STEPS):
                i = torch.randint(len(xt), (BATCH,), generator=gen)
                loss = ((model(xt[i]) - yt[i]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

        regression()
        t_reg, _ = best_of(regression, REPEATS)
    finally:
        torch.set_num_threads(n_threads)
    per_ebm, per_reg = t_ebm / EBM_STEPS, t_reg / EBM_STEPS
    ratio = per_ebm / per_reg
    table(f"langevin: EBM training, MLP 3 x 64 (SiLU), batch {BATCH}, K = {K} Langevin steps, "
          "1 torch thread",
          ("implementation", "ms / step", "steps / s"),
          [("EBMTrainer.step (K Langevin + Adam)", ms(per_ebm), f"{1 / per_ebm:.0f}"),
           ("plain MLP regression step (reference)", ms(per_reg), f"{1 / per_reg:.0f}"),
           ("ratio EBM / regression", f"{ratio:.1f}", "")],
          notes=(f"one EBM step does K = {K} forward+backward passes for ∇ₓE plus one training "
                 f"pass: a ratio near {K + 1} means the sampler costs what its passes cost",))
    headline("langevin", "EBM training steps / s (K = 40, batch 256)", f"{1 / per_ebm:.0f}")
    headline("langevin", "EBM step / plain regression step", f"{ratio:.1f}",
             f"<= {K + 1}", ratio <= K + 1)
    return ratio


def run() -> None:
    ula, mala = _chains()
    headline("langevin", "run_chains ULA / inline numpy", f"{ula:.2f}", "<= 1.0", ula <= 1.0)
    headline("langevin", "run_chains MALA / inline numpy", f"{mala:.2f}", "<= 1.0",
             mala <= 1.0)
    _ebm()
