"""Progress of a long training run: steps, loss (and its moving average), steps/s, ETA, and a
JSON progress file another process (the window) can follow.

The file is rewritten atomically (a temporary file renamed over it), so a reader never sees a
half-written one: ``{"step", "total", "loss", "loss_avg", "steps_per_s", "eta_s", "elapsed_s",
"checkpoint", "samples", "done", "error"}``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Progress:
    """``total`` steps (or None with a time budget ``seconds``); ``update(step, loss)``
    after each slice of steps."""

    total: int | None = None
    seconds: float | None = None
    start_step: int = 0
    path: Path | None = None
    step: int = 0
    loss: float = math.nan
    loss_avg: float = math.nan
    steps_per_s: float = math.nan
    elapsed_s: float = 0.0
    checkpoint: str = ""
    samples: str = ""
    done: bool = False
    error: str = ""
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def update(self, step: int, loss: float) -> None:
        self.step = int(step)
        self.loss = float(loss)
        a = 0.02  # the moving average of the loss curve
        self.loss_avg = self.loss if math.isnan(self.loss_avg) else (
            (1 - a) * self.loss_avg + a * self.loss)
        self.elapsed_s = time.monotonic() - self._t0
        if self.elapsed_s > 0:
            self.steps_per_s = (self.step - self.start_step) / self.elapsed_s

    @property
    def eta_s(self) -> float:
        """Seconds left: by steps and the rate so far, or by the time budget."""
        if self.seconds is not None:
            return max(0.0, self.seconds - self.elapsed_s)
        if self.total is None or not self.steps_per_s > 0:
            return math.nan
        return max(0.0, (self.total - self.step) / self.steps_per_s)

    @property
    def finished(self) -> bool:
        if self.total is not None and self.step >= self.total:
            return True
        return self.seconds is not None and time.monotonic() - self._t0 >= self.seconds

    def as_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_") and k != "path"}
        d["eta_s"] = self.eta_s
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in d.items()}

    def write(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.as_dict()), encoding="utf-8")
        os.replace(tmp, self.path)


def read_progress(path: str | Path) -> dict | None:
    """A progress file's contents, or None when it is missing or not (yet) valid JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "step" in data else None
