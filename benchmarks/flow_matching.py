"""Flow matching: training speed with independent and OT pairing, and the time to a good fit.

1. Training steps per second of ``genlab.engine.flow_matching_trainer.FlowMatchingTrainer``
   (draw x0, x1 and t, pair the batch, the straight-path loss, backward, Adam) with the
   default velocity net (3 x 128, 8 time frequencies), batch 256, against a plain reference
   loop written inline in the same run with the same net and optimiser: torch draws, the
   loss ‖v(x_t, t) − (x1 − x0)‖², and for OT pairing POT's ``ot.emd`` on the batch's squared
   distances directly (the reference library).  Ratios trainer / reference show what the
   engine's bookkeeping costs; OT / independent shows what minibatch OT costs per step.
2. Time until flow-matching samples on 8 gaussians → moons reach a stated sliced W₂: both
   couplings train from the 8-gaussians points to the two moons; every CHECK_EVERY steps
   Euler with N_CHECK_STEPS steps carries 2000 fresh 8-gaussians points and the sliced W₂
   to 2000 fresh moons points is measured.  Threshold: THRESHOLD (the metric's floor, two
   moons samples, is printed beside it); also the distances with 1 and 4 Euler steps at the
   end, where OT pairing's straighter paths show.

CPU, torch limited to 1 thread (as the app's worker).
"""

from __future__ import annotations

import time

from benchmarks._common import headline, ms, steps_per_second, table

BATCH = 256
BUDGET_S = 0.4
CHECK_EVERY = 250
MAX_TRAIN = 4000
N_CHECK = 2000
N_CHECK_STEPS = 16
THRESHOLD = 0.15
NOISE = 0.1


def _reference(x1, ot_pairing: bool):
    """k Adam steps of a plain flow-matching loop on the same net, written out inline."""
    import numpy as np
    import ot
    import torch

    from genlab.engine.denoiser import Denoiser

    net = Denoiser(seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    data = torch.as_tensor(x1, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    w = np.full(BATCH, 1.0 / BATCH)

    def step(k: int) -> None:
        for _ in range(k):
            b1 = data[torch.randint(0, len(data), (BATCH,), generator=g)]
            b0 = torch.randn(BATCH, 2, generator=g)
            t = torch.rand(BATCH, generator=g)
            if ot_pairing:
                plan = ot.emd(w, w, torch.cdist(b0, b1).pow(2).double().numpy())
                b1 = b1[torch.as_tensor(plan.argmax(axis=1))]
            tt = t[:, None]
            loss = ((net((1 - tt) * b0 + tt * b1, t) - (b1 - b0)) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return step


def run() -> None:
    import torch

    from genlab.engine import flow_matching as fm
    from genlab.engine.datasets import make_dataset
    from genlab.engine.denoiser import Denoiser
    from genlab.engine.flow_matching_trainer import FlowMatchingTrainer
    from genlab.engine.sample_distance import sliced_wasserstein

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # 1. training steps per second ---------------------------------------------------
        x1 = make_dataset("moons", 4000, NOISE, 1)[0]
        rows, rates = [], {}
        for coupling in fm.COUPLINGS:
            trainer = FlowMatchingTrainer(Denoiser(seed=0), x1, coupling=coupling,
                                          batch_size=BATCH, seed=0)
            rate = steps_per_second(trainer.step)
            ref = steps_per_second(_reference(x1, coupling == "ot"))
            rates[coupling] = rate
            rows.append((coupling, f"{rate:.0f}", ms(1 / rate), f"{ref:.0f}",
                         f"{ref / rate:.2f}"))
            headline("flow-matching", f"{coupling} pairing: trainer / plain loop time",
                     f"{ref / rate:.2f}", "<= 1.1", ref / rate <= 1.1)
        table("flow-matching training on the CPU, 1 thread, batch 256 (best of 3 timings)",
              ("pairing", "steps/s", "ms/step", "plain loop steps/s", "trainer / plain time"),
              rows, notes=("plain loop: the same net and Adam, written inline; OT pairing in "
                           "it calls POT's ot.emd directly",
                           f"OT / independent time per step: "
                           f"{rates['independent'] / rates['ot']:.1f}"))
        for coupling in fm.COUPLINGS:
            headline("flow-matching", f"{coupling} pairing steps/s, batch 256",
                     f"{rates[coupling]:.0f}")

        # 2. time to a good fit, 8 gaussians -> moons ----------------------------------
        src = make_dataset("8gaussians", 4000, NOISE, 0)[0]
        x_chk = make_dataset("8gaussians", N_CHECK, NOISE, 5)[0]
        ref_pts = make_dataset("moons", N_CHECK, NOISE, 2)[0]
        floor = sliced_wasserstein(make_dataset("moons", N_CHECK, NOISE, 3)[0], ref_pts)
        rows = []
        for coupling in fm.COUPLINGS:
            trainer = FlowMatchingTrainer(Denoiser(seed=0), x1, source=src,
                                          coupling=coupling, batch_size=BATCH, seed=0)
            spent, hit, curve = 0.0, None, []
            while trainer.n_steps_ < MAX_TRAIN and hit is None:
                t0 = time.perf_counter()
                trainer.step(CHECK_EVERY)
                ends = fm.sample(trainer.velocity, x_chk, N_CHECK_STEPS)[-1]
                d = sliced_wasserstein(ends, ref_pts)
                spent += time.perf_counter() - t0  # the check is part of knowing it
                curve.append((trainer.n_steps_, d))
                if d <= THRESHOLD:
                    hit = (trainer.n_steps_, spent)
            few = {n: sliced_wasserstein(fm.sample(trainer.velocity, x_chk, n)[-1], ref_pts)
                   for n in (1, 4)}
            rows.append((coupling, "not reached" if hit is None
                         else f"{hit[0]} / {hit[1]:.1f} s",
                         f"{curve[-1][1]:.3f}", f"{few[4]:.3f}", f"{few[1]:.3f}"))
            headline("flow-matching",
                     f"8gaussians -> moons, {coupling}: SW2 <= {THRESHOLD:g} "
                     f"({N_CHECK_STEPS} Euler steps)",
                     "not reached" if hit is None else f"{hit[1]:.1f} s ({hit[0]} steps)")
            print(f"  {coupling}: SW2 along training (step: SW2): "
                  + ", ".join(f"{s}: {v:.3f}" for s, v in curve))
        table(f"time until 8 gaussians -> moons samples reach sliced W2 <= {THRESHOLD:g} "
              f"({N_CHECK} points, {N_CHECK_STEPS} Euler steps, checked every "
              f"{CHECK_EVERY} Adam steps, at most {MAX_TRAIN})",
              ("pairing", "reached at step / s", f"SW2 at {N_CHECK_STEPS} steps",
               "then at 4 steps", "at 1 step"), rows,
              notes=(f"metric floor (two moons samples of {N_CHECK}): {floor:.3f}; "
                     "8 gaussians vs moons before training: "
                     f"{sliced_wasserstein(x_chk, ref_pts):.3f}",
                     "seconds: training plus the checks' sampling, 1 thread"))
    finally:
        torch.set_num_threads(threads)
