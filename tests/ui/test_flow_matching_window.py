"""The flow-matching lab driven through the real window: training frames, the live time
slider, a switch of view and a change of the number of steps, without retraining."""

from __future__ import annotations

import pytest

from genlab.labs import flow_matching
from genlab.labs.frame import Frame
from genlab.labs.params import replace
from tests.ui.conftest import wait_frames


@pytest.fixture(autouse=True)
def fresh_cache():
    flow_matching.clear_cache()
    yield
    flow_matching.clear_cache()


def _last(c):
    """The newest frame, or an empty stand-in while a restarted run has none yet."""
    if len(c.timeline):
        return c.timeline[-1]
    return Frame(step=0, title="", panels=())


def test_time_slider_view_and_steps_drive_the_run(make_window, qtbot):
    win = make_window("flow-matching")
    c = win.controller
    c.set_fps(0)  # as fast as the lab computes
    assert c.lab.name == "flow-matching"
    wait_frames(qtbot, win, 2, timeout=60000)
    assert c.timeline[0].caption.startswith("Preparing")  # the data, while torch loads
    assert "training" in c.timeline[1].title
    # a short run: a small training budget restarts the run
    c.set_params(replace(c.params, train_steps=60, source="standard normal",
                         dataset="8gaussians", n_particles=300))
    qtbot.waitUntil(lambda: "N(0, I) → 8gaussians" in _last(c).title, timeout=30000)
    gen = c.generation
    # switch to the field view while the nets train: the same run goes on
    win.panel.widgets["view"].setCurrentText("fields")
    assert c.params.view == "fields"
    qtbot.waitUntil(lambda: "· fields" in _last(c).title, timeout=20000)
    assert "training" in _last(c).title and c.generation == gen
    slider = win.panel.widgets["time"].slider
    slider.setValue(round(0.25 * slider.maximum()))
    assert abs(c.params.time - 0.25) < 0.02
    qtbot.waitUntil(lambda: "fields" in _last(c).title and _last(c).panels[1].title.endswith(
        f"t = {c.params.time:.2f}"), timeout=20000)
    assert c.generation == gen  # live: no restart
    qtbot.waitUntil(lambda: c.state == "finished", timeout=60000)
    last = c.timeline[-1]
    assert "training" not in last.title and last.caption.startswith("Done:")
    assert "field gap to u_t/independent" in last.values  # a bar, not a flat line
    # the metric plots: the loss against the training step, beside the bars
    assert win.metrics.xlabels["loss"] == "training step"
    assert any(k.endswith("field gap to u_t") for k in win.metrics.plots)

    # after the end: back to the samples, with 2 steps; the kept nets are not trained again
    win.panel.widgets["view"].setCurrentText("samples")
    c.set_param("n_steps", 2)
    qtbot.waitUntil(lambda: c.generation > gen and c.state == "finished", timeout=60000)
    frames = list(c.timeline)
    assert not any("training" in f.title for f in frames)
    last = frames[-1]
    assert last.panels[0].title.endswith("Euler 1/2") or last.panels[0].title.endswith(
        f"Euler {round(c.params.time * 2)}/2")
    assert {"sliced W₂ at N/independent", "sliced W₂ at N/OT-CFM"} <= set(last.values)
    assert any(k.endswith("sliced W₂ at N") for k in win.metrics.plots)
