"""Flow training steps per second: RealNVP and planar flows vs a plain MLP of the same size.

One training step = draw a minibatch, the negative log-likelihood's forward and backward pass,
one Adam step (``genlab.engine.flows.MLETrainer.step``).  The reference, measured in the same
run on the same thread setting and batch: a plain torch MLP 2 → w → w → 1 (SiLU) with about
the flow's number of weights, doing a forward pass, a backward pass of its mean output and one
Adam step (fused where torch has it, as for the flows) on the same batch, so the ratio
flow / MLP shows what the flow's structure costs (K small networks run one after the other,
the couplings' bookkeeping, the log-determinant) over the same arithmetic done by one network.

Data: 4096 standardised points of the moons; CPU; torch limited to 1 and then 2 threads (the
app's worker trains with 1, leaving a core to the GUI; with 2, torch's threads spin-wait
whenever another process holds a core, so those figures swing from run to run on a busy
machine).  Each figure is the best of REPEATS timings of about BUDGET_S seconds each, after a
warm-up.  Also: the time per frame of the lab's default run
(RealNVP 8 x 32, 5 steps per frame plus the density grid, the samples and the NLLs).
"""

from __future__ import annotations

import math
import time

from benchmarks._common import headline, ms, steps_per_second, table

CHUNK = 10  # steps timed together
BUDGET_S = 0.25  # seconds per timing
REPEATS = 3
BATCHES = (256, 512)
THREADS = (1, 2)
REALNVP_SIZES = ((4, 16), (8, 32), (8, 64), (16, 64))
PLANAR_SIZES = (16, 32)
FRAME_GOAL_MS = 50.0


def _mlp_width(n_params: int) -> int:
    """w with w² + 5w + 1 (the weights of 2 → w → w → 1) closest to n_params."""
    return max(1, round((-5 + math.sqrt(25 + 4 * (n_params - 1))) / 2))


def _reference(width: int, x, batch: int, seed: int = 0):
    """A function running k forward/backward/Adam steps of a plain MLP on minibatches."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                        nn.Linear(width, 1))
    try:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]

    def step(k: int) -> None:
        for _ in range(k):
            idx = torch.randint(0, n, (batch,), generator=gen)
            loss = net(x[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    n_params = sum(p.numel() for p in net.parameters())
    return step, n_params


def _frame_ms(frames: int = 40) -> float:
    """Median wall time per frame of the lab's default run (after its first frame)."""
    import numpy as np

    from genlab.labs import flow
    from genlab.labs.base import RunContext

    gen = flow.run(flow.Params(), RunContext(device="cpu"))
    try:
        next(gen)
        times = []
        for _ in range(frames):
            t = time.perf_counter()
            next(gen)
            times.append(time.perf_counter() - t)
    finally:
        gen.close()
    return float(np.median(times))


def run() -> None:
    import numpy as np
    import torch

    from genlab.engine.datasets import make_dataset
    from genlab.engine.flows import MLETrainer, PlanarFlow, RealNVP, flow_parameters

    x, _ = make_dataset("moons", 4096, 0.1, 0)
    x = (x - x.mean(0)) / np.sqrt(x.var(0).mean())
    xt = torch.tensor(x, dtype=torch.float32)
    threads_before = torch.get_num_threads()
    models = [(f"RealNVP {k} x {h}", lambda k=k, h=h: RealNVP(k, h, seed=0))
              for k, h in REALNVP_SIZES]
    models += [(f"planar {k}", lambda k=k: PlanarFlow(k, seed=0)) for k in PLANAR_SIZES]
    rows = []
    figures: dict[tuple[str, int, int], tuple[float, float]] = {}
    try:
        for threads in THREADS:
            torch.set_num_threads(threads)
            for name, make in models:
                for batch in BATCHES:
                    model = make()
                    trainer = MLETrainer(model, x, lr=1e-3, batch_size=batch, seed=0)
                    flow_rate = steps_per_second(trainer.step, CHUNK, BUDGET_S, REPEATS)
                    n_params = flow_parameters(model)
                    ref_step, ref_params = _reference(_mlp_width(n_params), xt, batch)
                    ref_rate = steps_per_second(ref_step, CHUNK, BUDGET_S, REPEATS)
                    ratio = ref_rate / flow_rate  # time per flow step / time per MLP step
                    figures[(name, batch, threads)] = (flow_rate, ratio)
                    rows.append((name, f"{n_params:,}", batch, threads, f"{flow_rate:.0f}",
                                 f"{ms(1 / flow_rate)}", f"{ref_params:,}",
                                 f"{ref_rate:.0f}", f"{ratio:.1f}"))
        torch.set_num_threads(1)
        frame = _frame_ms()
    finally:
        torch.set_num_threads(threads_before)
    table("flow: training steps per second on the CPU (NLL forward + backward + Adam), "
          f"best of {REPEATS} timings of {BUDGET_S:g} s",
          ("model", "weights", "batch", "threads", "steps/s", "ms/step", "MLP weights",
           "MLP steps/s", "flow/MLP time"),
          rows,
          notes=("MLP: 2 → w → w → 1 (SiLU) with about the flow's weights, forward + backward "
                 "of its mean output + Adam on the same batch; flow/MLP time = MLP steps/s "
                 "÷ flow steps/s",
                 "a flow runs its K layers one after the other, each a small network on a 1D "
                 "input: at these sizes per-operation overhead dominates, so doubling the "
                 "batch costs far less than twice the time",
                 "2 threads: torch's second thread spin-waits when another process holds the "
                 "other core; on a busy machine these rows are unreliable (the app uses 1)"))
    table("flow lab: time per frame of the default run (RealNVP 8 x 32, 5 steps per frame, "
          "96 x 96 density grid, 1000 samples, NLLs), 1 thread",
          ("figure", "value"), [("median ms / frame", ms(frame))],
          notes=(f"goal: <= {FRAME_GOAL_MS:.0f} ms so pause and cancel stay prompt",))
    rate, ratio = figures[("RealNVP 8 x 32", 256, 1)]
    headline("flow", "RealNVP 8x32 steps/s, batch 256, 1 thread", f"{rate:.0f}")
    headline("flow", "RealNVP 8x32 time / same-size MLP", f"{ratio:.1f}")
    rate_p, ratio_p = figures[("planar 32", 256, 1)]
    headline("flow", "planar 32 steps/s, batch 256, 1 thread", f"{rate_p:.0f}")
    headline("flow", "planar 32 time / same-size MLP", f"{ratio_p:.1f}")
    headline("flow", "lab frame, default run, 1 thread", f"{frame * 1e3:.1f} ms",
             f"<= {FRAME_GOAL_MS:.0f} ms", frame * 1e3 <= FRAME_GOAL_MS)
