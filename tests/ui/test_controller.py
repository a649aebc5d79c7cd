"""The run controller without a window: generations, live changes, pause and step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np

from genlab.labs import LabInfo
from genlab.labs.frame import Frame, Panel, Points
from genlab.labs.params import Range
from genlab.ui.controller import RunController


@dataclass(frozen=True)
class P:
    seed: Annotated[int, Range(0, 100, "seed")] = 0
    speed: Annotated[float, Range(0.0, 10.0, "a live value", live=True)] = 1.0


def counting(params, ctx):
    for i in range(10_000):
        new = yield Frame(i, f"seed {params.seed}", (Panel({"p": Points(np.zeros((2, 2)))}),),
                          metrics={"speed": params.speed}, caption=f"speed {params.speed}")
        if new is not None:
            params = new


LAB = LabInfo("count", "Count", "counts", P, counting)


def test_superseded_frames_are_dropped(qtbot):
    c = RunController()
    c.fps = 0
    c.set_lab(LAB)
    qtbot.waitUntil(lambda: len(c.timeline) > 5)
    for seed in (1, 2, 3):
        c.set_param("seed", seed)
        c.restart()  # no debounce: restart at once, three times in a row
    qtbot.waitUntil(lambda: len(c.timeline) > 20)
    qtbot.wait(100)
    assert {f.title for f in c.timeline} == {"seed 3"}
    assert c.timeline[0].step == 0
    c.shutdown()


def test_live_change_reaches_the_running_generator(qtbot):
    c = RunController()
    c.fps = 0
    c.set_lab(LAB)
    qtbot.waitUntil(lambda: len(c.timeline) > 3)
    gen = c.generation
    c.set_param("speed", 7.5)
    qtbot.waitUntil(lambda: c.timeline[-1].metrics["speed"] == 7.5)
    assert c.generation == gen
    c.shutdown()


def test_pause_step_and_restart_debounced(qtbot):
    c = RunController()
    c.fps = 50
    c.set_lab(LAB)
    qtbot.waitUntil(lambda: len(c.timeline) > 2)
    c.pause()
    qtbot.wait(100)
    n = len(c.timeline)
    c.step()
    qtbot.waitUntil(lambda: len(c.timeline) == n + 1)
    c.step_back()
    assert c.view == n - 1
    gen = c.generation
    for seed in range(5):
        c.set_param("seed", seed + 10)  # a burst of edits restarts once
    qtbot.waitUntil(lambda: c.generation > gen, timeout=2000)
    qtbot.wait(400)
    assert c.generation == gen + 1
    qtbot.waitUntil(lambda: len(c.timeline) >= 1)
    assert c.timeline[0].title == "seed 14"
    c.shutdown()
