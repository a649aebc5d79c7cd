"""GAN training speed against a plain torch loop, and the time for WGAN-GP to cover the ring.

1. Iterations per second of ``genlab.engine.gan.GANTrainer.step`` (each iteration: d_steps
   discriminator steps on fresh batches, then one generator step) with the lab's default
   nets (G and D MLPs of 2 hidden layers of 64), batch 256, for the non-saturating loss
   (1 D step) and WGAN-GP (5 critic steps with the gradient penalty), against a plain
   reference loop written inline in the same run: the same two nets built by torch.nn, the
   same Adam settings, and the same arithmetic per iteration (draw a real batch and z, D's
   loss on the real batch and G(z), backward, Adam; then G's loss on D(G(z)), backward,
   Adam).  The ratio trainer / reference is the time per iteration of the engine over the
   plain loop's: what the engine's bookkeeping (its checks, loss history, live settings)
   costs.
2. Time for the lab's WGAN-GP preset ("WGAN-GP: the critic as a potential": 5 critic steps
   per G step, batch 128, learning rates 1e-3) to cover 8 of the 8 modes of the ring: every
   CHECK_EVERY iterations ``mode_coverage`` of N_CHECK samples against the ring's modes
   (a sample within 3σ of its nearest mode is of high quality; a mode is covered by at least
   2% of the samples).  Training time only (the checks are timed apart), and the iteration
   it happened at.

CPU, torch limited to 1 thread (as the app's worker).  Each rate is the best of REPEATS
timings of about BUDGET_S seconds each, after a warm-up.
"""

from __future__ import annotations

import time

from benchmarks._common import headline, ms, steps_per_second, table

BATCH = 256
HIDDEN, DEPTH = 64, 2
CHUNK = 10
BUDGET_S = 0.5
REPEATS = 3
CHECK_EVERY = 50
N_CHECK = 2000
MAX_ITERS = 3000
WGAN_PRESET = "WGAN-GP: the critic as a potential"


def _reference(x, loss: str, d_steps: int, seed: int = 0):
    """k iterations of a plain GAN loop on the same nets and optimisers, written inline."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def mlp(n_in: int, n_out: int, act) -> nn.Module:
        return nn.Sequential(nn.Linear(n_in, HIDDEN), act(), nn.Linear(HIDDEN, HIDDEN), act(),
                             nn.Linear(HIDDEN, n_out))

    torch.manual_seed(seed)
    G = mlp(2, 2, nn.ReLU)
    D = mlp(2, 1, lambda: nn.LeakyReLU(0.2))
    betas = (0.5, 0.9) if loss == "wgan-gp" else (0.5, 0.999)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=betas)
    data = torch.as_tensor(x, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)

    def step(k: int) -> None:
        for _ in range(k):
            for _ in range(d_steps):
                real = data[torch.randint(0, len(data), (BATCH,), generator=gen)]
                z = torch.randn(BATCH, 2, generator=gen)
                with torch.no_grad():
                    fake = G(z)
                fr, ff = D(real).squeeze(1), D(fake).squeeze(1)
                if loss == "wgan-gp":
                    e = torch.rand(BATCH, 1, generator=gen)
                    u = (e * real + (1 - e) * fake).requires_grad_(True)
                    (gu,) = torch.autograd.grad(D(u).sum(), u, create_graph=True)
                    ld = ff.mean() - fr.mean() + 10.0 * ((gu.norm(dim=1) - 1) ** 2).mean()
                else:
                    ld = F.softplus(-fr).mean() + F.softplus(ff).mean()
                opt_d.zero_grad(set_to_none=True)
                ld.backward()
                opt_d.step()
            ff = D(G(z)).squeeze(1)
            lg = -ff.mean() if loss == "wgan-gp" else F.softplus(-ff).mean()
            opt_g.zero_grad(set_to_none=True)
            lg.backward(inputs=list(G.parameters()))
            opt_g.step()

    return step


def _time_to_cover(x, means, std) -> tuple[float | None, int | None, float, list[tuple]]:
    """(training seconds, iteration) when the WGAN-GP preset first covers every mode (None
    if not within MAX_ITERS), the seconds spent measuring, and the checks' rows."""
    from genlab.engine.gan import mode_coverage
    from genlab.labs import gan
    from genlab.labs.gan.two_d import make_trainer
    from genlab.labs.presets import presets_for

    p = next(q for q in presets_for("gan") if q.name == WGAN_PRESET).params(gan.Params)
    tr = make_trainer(p, x, "cpu")
    train_s = check_s = 0.0
    rows: list[tuple] = []
    while tr.step_ < MAX_ITERS:
        t = time.perf_counter()
        tr.step(CHECK_EVERY)
        train_s += time.perf_counter() - t
        t = time.perf_counter()
        covered, good = mode_coverage(tr.sample(N_CHECK, seed=1), means, std)
        check_s += time.perf_counter() - t
        if covered == len(means) or tr.step_ % 500 == 0:
            rows.append((tr.step_, f"{train_s:.1f}", f"{covered} of {len(means)}",
                         f"{100 * good:.0f}%"))
        if covered == len(means):
            return train_s, tr.step_, check_s, rows
    return None, None, check_s, rows


def run() -> None:
    import torch

    from genlab.engine.datasets import make_dataset
    from genlab.engine.gan import GANTrainer
    from genlab.labs.gan.geometry import ring_law

    noise = 0.05
    x, _ = make_dataset("8gaussians", 2000, noise, 0)
    means, std = ring_law("8gaussians", noise)
    threads_before = torch.get_num_threads()
    rows = []
    figures: dict[str, tuple[float, float]] = {}
    try:
        torch.set_num_threads(1)
        for loss, d_steps in (("non-saturating", 1), ("wgan-gp", 5)):
            tr = GANTrainer(x, loss=loss, hidden=HIDDEN, depth=DEPTH, d_steps=d_steps,
                            batch_size=BATCH, seed=0)
            rate = steps_per_second(tr.step, CHUNK, BUDGET_S, REPEATS)
            ref = steps_per_second(_reference(x, loss, d_steps), CHUNK, BUDGET_S, REPEATS)
            figures[loss] = (rate, ref / rate)
            rows.append((loss, d_steps, f"{rate:.0f}", ms(1 / rate), f"{ref:.0f}",
                         ms(1 / ref), f"{ref / rate:.2f}"))
        cover_s, cover_it, check_s, cover_rows = _time_to_cover(x, means, std)
    finally:
        torch.set_num_threads(threads_before)
    table(f"gan: training iterations per second on the CPU, 1 thread, batch {BATCH}, G and D "
          f"MLPs {DEPTH} x {HIDDEN}, best of {REPEATS} timings of {BUDGET_S:g} s",
          ("loss", "D steps", "iters/s", "ms/iter", "plain loop iters/s", "ms/iter",
           "trainer/plain time"), rows,
          notes=("plain loop: the same nets, Adam settings and arithmetic per iteration, "
                 "written inline; trainer/plain time = plain iters/s ÷ trainer iters/s",))
    table(f"gan: the WGAN-GP preset ('{WGAN_PRESET}') until it covers 8 of 8 modes of the "
          f"ring (checked every {CHECK_EVERY} iterations on {N_CHECK} samples), 1 thread",
          ("iteration", "training s", "modes covered", "within 3σ"), cover_rows,
          notes=(f"measuring took {check_s:.2f} s more (not in 'training s')",))
    rate, ratio = figures["non-saturating"]
    headline("gan", "non-saturating iters/s, batch 256, 1 thread", f"{rate:.0f}")
    headline("gan", "non-saturating trainer / plain loop time", f"{ratio:.2f}")
    rate_w, ratio_w = figures["wgan-gp"]
    headline("gan", "WGAN-GP (5 critic steps) iters/s, 1 thread", f"{rate_w:.0f}")
    headline("gan", "WGAN-GP trainer / plain loop time", f"{ratio_w:.2f}")
    headline("gan", "WGAN-GP preset to 8 of 8 modes",
             f"not within {MAX_ITERS} iterations" if cover_s is None else
             f"{cover_s:.1f} s ({cover_it} iterations)")
