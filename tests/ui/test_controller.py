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


def short(params, ctx):
    for i in range(6):
        yield Frame(i, f"frame {i}", (Panel({"p": Points(np.zeros((2, 2)) + i)}),), caption="c")


def test_finished_run_replays_from_the_timeline(qtbot):
    c = RunController()
    c.fps = 60
    c.set_lab(LabInfo("short", "Short", "six frames", P, short))
    qtbot.waitUntil(lambda: c.state == "finished")
    assert len(c.timeline) == 6 and not c.playing
    gen = c.generation
    seen = []
    c.view_changed.connect(lambda: seen.append(c.view))
    c.toggle()  # Space on a finished run: play it again from the start
    assert c.playing
    qtbot.waitUntil(lambda: c.state == "finished" and not c.playing, timeout=5000)
    assert seen[0] == 0 and seen[-1] == 5 and sorted(set(seen)) == list(range(6))
    assert c.generation == gen, "replayed from the timeline, not recomputed"
    c.seek(2)
    c.play()
    qtbot.waitUntil(lambda: c.view == 5 and not c.playing)
    c.shutdown()


def test_stop_halts_keeps_the_frames_and_space_resumes(qtbot):
    c = RunController()
    c.fps = 0
    c.set_lab(LAB)
    qtbot.waitUntil(lambda: len(c.timeline) > 5)
    gen = c.generation
    c.stop()
    assert c.state == "stopped"
    qtbot.wait(100)
    n = len(c.timeline)
    qtbot.wait(150)
    assert len(c.timeline) == n > 5  # no frame while stopped
    c.toggle()  # Space
    qtbot.waitUntil(lambda: len(c.timeline) > n + 3)
    assert c.generation == gen and c.state == "playing"  # the same run, resumed
    c.shutdown()


def test_a_live_change_made_as_the_run_ends_restarts_it(qtbot):
    import threading

    making_last, go = threading.Event(), threading.Event()

    def two_frames(params, ctx):
        yield Frame(0, "first", (Panel({"p": Points(np.zeros((2, 2)))}),),
                    caption=f"speed {params.speed}")
        making_last.set()  # the generator now decides to end, before taking any change
        go.wait(5.0)

    lab = LabInfo("two", "Two", "two frames", P, two_frames)
    c = RunController()
    c.fps = 0
    c.set_lab(lab)
    gen = c.generation
    assert making_last.wait(5.0)
    c.set_param("speed", 4.0)  # live, but the generator will never yield again
    go.set()
    # the change is not lost: the run restarts with it (and never reports "finished" first)
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) >= 1, timeout=5000)
    assert c.timeline[-1].caption == "speed 4.0"
    go.set()
    # once a run is over, a live change restarts it rather than going nowhere
    qtbot.waitUntil(lambda: c.state == "finished", timeout=5000)
    gen = c.generation
    c.set_param("speed", 5.0)
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) >= 1
                    and c.timeline[-1].caption == "speed 5.0", timeout=5000)
    c.shutdown()
