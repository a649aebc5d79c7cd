"""GUI event-loop latency while a torch model trains in a RunThread.

The generator (the "lab") trains an MLP 2 -> 64 -> 64 -> 1 with Adam on two-moons data
(a classifier, batch 256), yielding a tiny Frame every 10 steps.  A RunThread pulls its frames
as fast as it can (fps 0, the playback bar's fastest speed); the GUI thread acknowledges each
frame, as the controller does.  On the GUI thread a precise 5 ms QTimer records how late each
tick comes beyond its interval, for ~4 s.

Two runs: torch limited to 1 thread (``limit_torch_threads``, what the app does) and torch's
default thread count (RunThread's limit switched off for that run).  torch's import and the
first Adam (~1-2 s together) are warmed up before timing; an idle baseline (no worker)
shows the timer's own jitter.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import numpy as np

from benchmarks._common import headline, table

TICK_MS = 5
MEASURE_S = 4.0
IDLE_S = 1.0
STEPS_PER_FRAME = 10
BATCH = 256
GOAL_WORST_MS = 16.0


def moons(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-circles with noise: x (n, 2), y (n,) in {0, 1}."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    return x + 0.1 * rng.standard_normal((n, 2)), y


class Progress:
    """Shared between the worker and the GUI thread (plain ints: the GIL keeps them whole)."""

    def __init__(self) -> None:
        self.steps = 0
        self.threads = 0


def train(progress: Progress, threads: int | None) -> Iterator:
    """The benchmark's lab: train an MLP with Adam, a Frame every STEPS_PER_FRAME steps.

    threads: torch threads to use in this worker (None: ``limit_torch_threads``, the app's).
    """
    import torch

    from genlab.labs.frame import Frame, Panel, Points
    from genlab.ui.worker import limit_torch_threads

    if threads is None:
        limit_torch_threads()
    else:
        torch.set_num_threads(threads)
    progress.threads = torch.get_num_threads()
    torch.manual_seed(0)
    xs, ys = moons(4096)
    x = torch.as_tensor(xs, dtype=torch.float32)
    y = torch.as_tensor(ys, dtype=torch.float32)[:, None]
    model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(),
                                torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step = 0
    while True:
        for _ in range(STEPS_PER_FRAME):
            idx = torch.randint(0, x.shape[0], (BATCH,))
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        progress.steps = step
        progress.threads = torch.get_num_threads()
        yield Frame(step=step, title="training", panels=(Panel({"batch": Points(x[idx[:32]])}),),
                    metrics={"loss": loss.item()})


def warm_up_torch() -> float:
    """Import torch and take one Adam step on the main thread; seconds taken."""
    t = time.perf_counter()
    import torch

    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([p], lr=1e-3)
    (p * p).sum().backward()
    opt.step()
    return time.perf_counter() - t


def _measure(app, seconds: float) -> list[float]:
    """Delays (s) beyond the interval of a precise TICK_MS timer over ``seconds``."""
    from PySide6 import QtCore

    delays: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        delays.append(max(0.0, now - last[0] - TICK_MS / 1000))
        last[0] = now

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    last[0] = time.perf_counter()
    timer.start()
    loop.exec()
    timer.stop()
    return delays


def _run_training(app, threads: int | None) -> tuple[list[float], float, int, int]:
    """Train in a RunThread while measuring; (delays, steps/s, torch threads, frames)."""
    from PySide6 import QtCore

    import genlab.ui.worker as worker

    progress = Progress()

    class Sink(QtCore.QObject):
        """Lives on the GUI thread; takes frames as the controller does (ack each)."""

        frames = 0

        @QtCore.Slot(int, object)
        def on_frame(self, generation: int, frame) -> None:
            self.frames += 1
            thread.ack()

    sink = Sink()
    make: Callable[[], Iterator] = lambda: train(progress, threads)  # noqa: E731
    thread = worker.RunThread(1, make, fps=0)
    thread.frame_ready.connect(sink.on_frame)
    saved = worker.limit_torch_threads
    if threads is not None:  # the default-threads run: RunThread must not reset it to 1
        worker.limit_torch_threads = lambda: None
    try:
        thread.start()
        deadline = time.perf_counter() + 30
        while sink.frames < 3 and time.perf_counter() < deadline:  # model built, running
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 10)
            time.sleep(0.001)
        s0, f0, t0 = progress.steps, sink.frames, time.perf_counter()
        delays = _measure(app, MEASURE_S)
        steps = progress.steps - s0
        rate = steps / (time.perf_counter() - t0)
        frames = sink.frames - f0
    finally:
        thread.cancel()
        thread.wait(10_000)
        worker.wait_for_steps()
        worker.limit_torch_threads = saved
        app.processEvents()
    thread.deleteLater()
    return delays, rate, progress.threads, frames


def _stats(delays: list[float]) -> tuple[float, float, float]:
    d = np.asarray(delays) * 1e3
    return float(d.max()), float(np.percentile(d, 99)), float(np.median(d))


def run() -> None:
    from genlab.ui.render import ensure_app

    app = ensure_app()
    had_torch = "torch" in sys.modules
    warm = warm_up_torch()
    import torch

    default_threads = torch.get_num_threads()
    rows = []
    idle = _stats(_measure(app, IDLE_S))
    rows.append(("idle (no worker)", "", f"{idle[0]:.1f}", f"{idle[1]:.1f}", f"{idle[2]:.2f}",
                 "", ""))
    results = {}
    for label, threads in (("limit_torch_threads (app)", None),
                           ("torch default threads", default_threads)):
        delays, rate, used, frames = _run_training(app, threads)
        worst, p99, med = _stats(delays)
        results[label] = (worst, p99, rate, used)
        rows.append((label, used, f"{worst:.1f}", f"{p99:.1f}", f"{med:.2f}", f"{rate:.0f}",
                     f"{frames / MEASURE_S:.0f}"))
    torch.set_num_threads(default_threads)
    table(f"latency: delay of a {TICK_MS} ms QTimer on the GUI thread beyond its interval, "
          f"{MEASURE_S:.0f} s while an MLP 2-64-64-1 trains (Adam, batch {BATCH})",
          ("run", "torch threads", "worst ms", "p99 ms", "median ms", "steps/s",
           "frames/s"),
          rows,
          notes=(f"goal: worst <= {GOAL_WORST_MS:.0f} ms with limit_torch_threads (the app)",
                 f"RunThread at fps 0 (as fast as possible), a Frame every {STEPS_PER_FRAME} "
                 "steps, acknowledged on the GUI thread",
                 f"torch import + first Adam step warmed up first: {warm:.2f} s"
                 + (" (torch was already imported)" if had_torch else "")))
    worst, p99, rate, _ = results["limit_torch_threads (app)"]
    headline("latency", "worst GUI delay, 1 torch thread", f"{worst:.1f} ms",
             f"<= {GOAL_WORST_MS:.0f} ms", worst <= GOAL_WORST_MS)
    headline("latency", "p99 GUI delay, 1 torch thread", f"{p99:.1f} ms")
    headline("latency", "training steps/s, 1 torch thread", f"{rate:.0f}")
    worst, p99, rate, used = results["torch default threads"]
    headline("latency", f"worst GUI delay, {used} torch threads", f"{worst:.1f} ms",
             f"(<= {GOAL_WORST_MS:.0f} ms)", worst <= GOAL_WORST_MS)
    headline("latency", f"training steps/s, {used} torch threads", f"{rate:.0f}")
