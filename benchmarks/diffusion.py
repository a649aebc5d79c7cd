"""Diffusion: denoiser training speed, sampler cost, and the time to a good DDPM fit.

1. Denoiser training steps per second (``genlab.engine.denoiser.DenoiserTrainer.step``: draw
   a minibatch of points, times and noises, the ε-prediction loss, backward, Adam), batch 256,
   the default network (3 x 128, 8 frequencies), against a plain MLP regression of the same
   size measured in the same run (the same layers on a fixed 18-dimensional input, an MSE
   to a fixed target, backward, Adam): the ratio shows what the time embedding and the
   schedule's per-step numpy work cost over the bare arithmetic.
2. Sampling 10 000 points with 100 steps: the probability-flow ODE (Euler, Heun), the reverse
   SDE, DDIM and DDPM of ``genlab.engine.diffusion``, with the exact score of the 8-gaussians
   mixture and with the trained denoiser's score; learned / exact time ratio.
3. Time to a good fit: the denoiser trains on 8 gaussians; every CHECK_EVERY steps DDPM draws
   2000 points with 100 steps and the sliced W₂ to fresh mixture samples is measured.  The
   threshold is 1.25 x the same distance for DDPM with the *exact* score (measured in this run,
   so it includes the sampling noise floor of the metric), and an absolute ABS_THRESHOLD.

4. Weight averaging against time: the same denoiser trained on a thin curve of the gallery
   (the swiss roll: the dino set of the issue is a download, and the gallery's roll is the
   closest offline stand-in), with the engine's EMA (``DenoiserTrainer(ema=EMA_DECAY)``,
   the diffusion lab's setting) and without; every CURVE_EVERY_S seconds of training up to
   CURVE_S, DDPM draws 2000 points (100 steps) and their exact W₂ (POT) to 2000 held-out
   points is printed over the floor, the exact W₂ between two independent draws of 2000.
   Goal: <= 1.3 x the floor at every budget from 30 s on.

CPU, torch limited to 1 thread (as the app's worker).
"""

from __future__ import annotations

import time

from benchmarks._common import best_of, headline, ms, steps_per_second, table

BATCH = 256
BUDGET_S = 0.4
N_SAMPLE = 10_000
N_STEPS = 100
CHECK_EVERY = 250
MAX_TRAIN = 5000
N_CHECK = 2000
ABS_THRESHOLD = 0.2
REL_THRESHOLD = 1.25  # x the exact-score DDPM distance
CURVE_S = 120.0
CURVE_EVERY_S = 30.0
EMA_DECAY = 0.995  # the diffusion lab's
CURVE_SET = "swissroll"
GOAL_RATIO = 1.3
N_REF = 10_000  # fresh mixture samples the distances are measured to


def _reference(n_in: int, hidden: int, depth: int):
    """k Adam steps of a plain MLP regression n_in → hidden x depth → 2 on a fixed batch."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    net = nn.Sequential(*layers, nn.Linear(width, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(BATCH, n_in)
    y = torch.randn(BATCH, 2)

    def step(k: int) -> None:
        for _ in range(k):
            loss = ((net(x) - y) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return step


def _exact_w2(x, y) -> float:
    """Exact W₂ between two equal-size clouds (POT's network simplex)."""
    import numpy as np
    import ot

    cost = ot.dist(x, y)  # squared Euclidean
    n = len(x)
    w = np.full(n, 1.0 / n)
    return float(np.sqrt(ot.emd2(w, w, cost, numItermax=10_000_000)))


def _ema_curve() -> dict[str, list[tuple[float, int, float]]]:
    """{"EMA" | "no averaging": [(seconds, steps, W₂ / floor)]} (section 4)."""
    import numpy as np

    from genlab.engine import diffusion as df
    from genlab.engine.datasets import make_dataset
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer

    sched = df.VPSchedule()
    train = make_dataset(CURVE_SET, 8000, 0.1, seed=0)[0]
    held = make_dataset(CURVE_SET, N_CHECK, 0.1, seed=1)[0]
    floor = _exact_w2(make_dataset(CURVE_SET, N_CHECK, 0.1, seed=2)[0], held)
    x_T = np.random.default_rng(3).standard_normal((N_CHECK, 2))
    out: dict[str, list[tuple[float, int, float]]] = {"floor": [(0.0, 0, floor)]}
    for name, ema in (("EMA", EMA_DECAY), ("no averaging", 0.0)):
        trainer = DenoiserTrainer(Denoiser(seed=0), train, sched, lr=2e-3, batch_size=BATCH,
                                  seed=0, ema=ema)
        spent, mark, rows = 0.0, CURVE_EVERY_S, []
        while spent < CURVE_S:
            t0 = time.perf_counter()
            trainer.step(50)
            spent += time.perf_counter() - t0
            if spent >= mark:
                x = df.ddpm_sample(trainer.score, x_T, sched, N_STEPS, seed=4)[-1]
                rows.append((mark, trainer.n_steps_, _exact_w2(x, held) / floor))
                mark += CURVE_EVERY_S
        out[name] = rows
    return out


def run() -> None:
    import numpy as np
    import torch

    from genlab.engine import diffusion as df
    from genlab.engine.denoiser import Denoiser, DenoiserTrainer
    from genlab.engine.mixtures import gallery_mixture
    from genlab.engine.sample_distance import sliced_wasserstein

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        mix = gallery_mixture("8gaussians", 0.1)
        sched = df.VPSchedule()
        x0, _ = mix.sample(4096, seed=0)

        # 1. training steps per second ---------------------------------------------------
        model = Denoiser(seed=0)
        trainer = DenoiserTrainer(model, x0, sched, lr=2e-3, batch_size=BATCH, seed=0)
        rate = steps_per_second(trainer.step)
        ref = steps_per_second(_reference(2 + 2 * model.n_freq, 128, 3))
        table("denoiser training on the CPU, 1 thread, batch 256 (best of 3 timings)",
              ("loop", "steps/s", "ms/step"),
              [("DenoiserTrainer.step (3 x 128, time embedding)", f"{rate:.0f}",
                ms(1 / rate)),
               ("plain MLP regression, same layers, fixed batch", f"{ref:.0f}", ms(1 / ref)),
               ("ratio denoiser time / MLP time", f"{ref / rate:.2f}", "")])
        headline("diffusion", "denoiser steps/s, batch 256, 1 thread", f"{rate:.0f}")
        headline("diffusion", "denoiser time / plain MLP time", f"{ref / rate:.2f}")

        # 2. samplers, exact and learned score ------------------------------------------
        trainer.step(1500)  # a network worth sampling with

        def exact(x, t):
            return df.gmm_score(x, t, *mix.as_tuple(), sched)

        x_T = np.random.default_rng(1).standard_normal((N_SAMPLE, 2))
        samplers = {
            "pf-ODE Euler": lambda s: df.pf_ode_sample(s, x_T, sched, N_STEPS, "euler"),
            "pf-ODE Heun": lambda s: df.pf_ode_sample(s, x_T, sched, N_STEPS, "heun"),
            "reverse SDE": lambda s: df.reverse_sde_sample(s, x_T, sched, N_STEPS, seed=2),
            "DDIM": lambda s: df.ddim_sample(s, x_T, sched, N_STEPS),
            "DDPM": lambda s: df.ddpm_sample(s, x_T, sched, N_STEPS, seed=2),
        }
        rows = []
        ratios = {}
        for name, sample in samplers.items():
            te, _ = best_of(lambda sample=sample: sample(exact), 2)
            tl, _ = best_of(lambda sample=sample: sample(trainer.score), 2)
            ratios[name] = tl / te
            rows.append((name, ms(te), ms(tl), f"{tl / te:.2f}"))
        table(f"sampling {N_SAMPLE:,} points with {N_STEPS} steps (ms, best of 2)",
              ("sampler", "exact score", "learned score", "learned / exact"), rows,
              notes=("exact: the closed-form score of the noised 8-gaussians mixture "
                     "(numpy); learned: the denoiser on the CPU (torch, 1 thread)",
                     "Heun calls the score twice per step"))
        te_ddpm = float(rows[-1][1]) / 1e3
        headline("diffusion", "DDPM 10k x 100 steps, exact score", f"{te_ddpm * 1e3:.0f} ms")
        headline("diffusion", "DDPM learned / exact score time", f"{ratios['DDPM']:.2f}")

        # 3. time to a good DDPM fit -----------------------------------------------------
        ref_pts, _ = mix.sample(N_REF, seed=11)
        x_chk = np.random.default_rng(12).standard_normal((N_CHECK, 2))
        exact_d = sliced_wasserstein(df.ddpm_sample(exact, x_chk, sched, N_STEPS, seed=3)[-1],
                                     ref_pts)
        floor = sliced_wasserstein(mix.sample(N_CHECK, seed=13)[0], ref_pts)
        threshold = REL_THRESHOLD * exact_d
        model = Denoiser(seed=0)
        trainer = DenoiserTrainer(model, mix.sample(2000, seed=0)[0], sched, lr=2e-3,
                                  batch_size=BATCH, seed=0)
        t_train, done, hit_rel, hit_abs, curve = 0.0, 0, None, None, []
        while done < MAX_TRAIN and (hit_rel is None or hit_abs is None):
            t0 = time.perf_counter()
            trainer.step(CHECK_EVERY)
            t_train += time.perf_counter() - t0
            done += CHECK_EVERY
            t0 = time.perf_counter()
            d = sliced_wasserstein(df.ddpm_sample(trainer.score, x_chk, sched, N_STEPS,
                                                  seed=3)[-1], ref_pts)
            t_train += time.perf_counter() - t0  # sampling is part of the time to know it
            curve.append((done, d))
            if hit_rel is None and d <= threshold:
                hit_rel = (done, t_train)
            if hit_abs is None and d <= ABS_THRESHOLD:
                hit_abs = (done, t_train)
        table("time until DDPM with the learned score reaches a sliced W₂ to the data "
              f"(2000 samples, {N_STEPS} steps, checked every {CHECK_EVERY} Adam steps)",
              ("figure", "value"),
              [("sliced W₂, DDPM with the exact score", f"{exact_d:.3f}"),
               ("sliced W₂, two independent mixture draws (metric floor)", f"{floor:.3f}"),
               (f"threshold {REL_THRESHOLD:g} x exact", f"{threshold:.3f}"),
               ("reached at step / seconds", "not reached" if hit_rel is None
                else f"{hit_rel[0]} / {hit_rel[1]:.1f} s"),
               (f"absolute threshold {ABS_THRESHOLD:g} reached at step / seconds",
                "not reached" if hit_abs is None else f"{hit_abs[0]} / {hit_abs[1]:.1f} s")],
              notes=("distances along training (step: SW₂): "
                     + ", ".join(f"{s}: {v:.3f}" for s, v in curve),
                     "seconds: training plus the checks' sampling, 1 thread"))
        headline("diffusion",
                 f"learned DDPM within {REL_THRESHOLD:g}x exact (SW2 <= {threshold:.3f})",
                 "not reached" if hit_rel is None else
                 f"{hit_rel[1]:.1f} s ({hit_rel[0]} steps)")
        headline("diffusion", f"learned DDPM SW2 <= {ABS_THRESHOLD:g}",
                 "not reached" if hit_abs is None else
                 f"{hit_abs[1]:.1f} s ({hit_abs[0]} steps)")

        # 4. weight averaging against time -------------------------------------------------
        curve = _ema_curve()
        floor = curve.pop("floor")[0][2]
        rows = [(f"{sec:.0f} s", *(f"{r[2]:.2f} ({r[1]} steps)" for r in row))
                for sec, row in zip([r[0] for r in curve["EMA"]],
                                    zip(*curve.values(), strict=True), strict=True)]
        table(f"exact W₂ / floor on {CURVE_SET} (2000 DDPM samples, {N_STEPS} steps, against "
              f"2000 held-out points; floor {floor:.3f}), 1 thread",
              ("training time", *curve), rows,
              notes=(f"EMA: DenoiserTrainer(ema={EMA_DECAY}) with the engine's warm-up, as "
                     "the diffusion lab trains; goal <= "
                     f"{GOAL_RATIO:g} x the floor from 30 s on",))
        worst = max(r[2] for r in curve["EMA"])
        headline("diffusion", f"EMA: worst W2 / floor from 30 s to {CURVE_S:.0f} s",
                 f"{worst:.2f}")
        headline("diffusion", f"no averaging: worst W2 / floor from 30 s to {CURVE_S:.0f} s",
                 f"{max(r[2] for r in curve['no averaging']):.2f}")
    finally:
        torch.set_num_threads(threads)
