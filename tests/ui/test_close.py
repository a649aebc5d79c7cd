"""Closing the window at the wrong moment exits cleanly, as a user's process (a subprocess:
an abort would take pytest down with it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.close import close_after

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


@pytest.mark.parametrize("lab,delay,drawn", [
    ("flow-matching", 1.5, 0),  # inside the imports and the set-up (about 7 s)
    ("ot", 1.0, 100_000),  # inside an exact solve of 100k drawn points
])
def test_closing_during_a_long_step_exits_cleanly(lab, delay, drawn):
    code, after, err = close_after(lab, delay, drawn, env=ENV)
    assert code == 0, err
    assert after < 5.0  # not the minute an exact solve of 100k points takes
    assert "Destroyed while thread" not in err and "Traceback" not in err


def test_a_seeded_monkey_finds_no_exception_and_no_crash():
    """Random lab switches, presets, typed and extreme values, keys, drags, scrubs, theme and
    scale changes and exports for 45 s (``python -m benchmarks.monkey`` runs it longer)."""
    p = subprocess.run([sys.executable, "-m", "benchmarks.monkey", "--seconds", "45",
                        "--seed", "7", "--every", "1000"], capture_output=True, text=True,
                       env=ENV, timeout=300)
    summary = [ln for ln in p.stdout.splitlines() if "actions," in ln]
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-4000:])
    assert summary and " 0 exceptions, 0 run threads left" in summary[-1]
