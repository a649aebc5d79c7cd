"""The Langevin lab driven through the real window: live η, the sampler combo, the EBM preset."""

from __future__ import annotations

import numpy as np

from tests.ui.conftest import wait_frames


def test_langevin_eta_is_live_and_sampler_restarts(make_window, qtbot):
    win = make_window("langevin")
    c = win.controller
    c.set_fps(60.0)
    assert c.lab.name == "langevin"
    c.set_param("n_steps", 20000)  # live: a long run, so it still goes when η moves
    qtbot.waitUntil(lambda: len(c.timeline) >= 3, timeout=60000)
    assert "sliced W₂ to p/ULA" in c.timeline[-1].metrics
    gen = c.generation
    # the user drags the logarithmic η slider to its top end (η = 1)
    w = win.panel.widgets["eta"]
    w.slider.setValue(w.slider.maximum())
    qtbot.waitUntil(lambda: abs(c.params.eta - 1.0) < 1e-9
                    and "η = 1:" in c.timeline[-1].caption
                    and "η = 1" in c.timeline[-1].panels[0].title, timeout=20000)
    assert c.generation == gen  # live: the chains carried on
    # switching the sampler restarts the run with both samplers side by side
    win.panel.widgets["sampler"].setCurrentText("both")
    qtbot.waitUntil(lambda: c.generation > gen and len(c.timeline) >= 2
                    and "acceptance/MALA" in c.timeline[-1].metrics, timeout=30000)
    f = c.timeline[-1]
    assert [p.title.split(",")[0] for p in f.panels[:2]] == ["ULA", "MALA"]
    assert 0.0 <= f.metrics["acceptance/MALA"] <= 1.0


def test_langevin_ebm_preset_trains(make_window, qtbot):
    win = make_window("langevin")
    c = win.controller
    c.set_fps(60.0)
    wait_frames(qtbot, win, 1, timeout=60000)
    win.apply_preset("EBM learns two moons")
    qtbot.waitUntil(lambda: c.params.mode == "ebm" and len(c.timeline) >= 4
                    and "EBM" in c.timeline[-1].title, timeout=60000)
    f = c.timeline[-1]
    assert {"contrastive loss", "energy/data", "energy/chains"} <= set(f.metrics)
    assert [p.title.split(" ")[0] for p in f.panels] == ["data", "learned", "2000"]
    assert f.title.startswith("Langevin EBM · moons · step ")
    assert int(f.title.split("step ")[1].split(" ")[0]) > 0


def test_langevin_axes_read_the_data_after_a_theme_toggle_and_w2_prints_decades(make_window,
                                                                                qtbot):
    """The true-density panel's axes (once ±6000 after a restyle) and the sliced W₂ plot's
    log axis (once a pile of minor labels), in the real window."""
    from tests.ui.test_pictures import _check_axes, _tick_values

    win = make_window("langevin")
    c = win.controller
    c.set_fps(60.0)
    wait_frames(qtbot, win, 3, timeout=60000)
    win.toggle_theme()
    win.zoom(1.15)
    n = len(c.timeline)
    qtbot.waitUntil(lambda: len(c.timeline) > n + 2, timeout=30000)
    qtbot.waitUntil(lambda: win.canvas.frame is c.current_frame(), timeout=5000)
    frame = win.canvas.frame
    assert frame.panels[-1].title == "true density p(x)"
    _check_axes(win.canvas, frame)
    plot = win.metrics.plots["sliced W₂ to p"]
    axis = plot.getAxis("left")
    assert axis.logMode and axis.autoSIPrefixScale == 1.0
    lo, hi = axis.range
    labels = [s for sp, vals in axis.tickValues(lo, hi, 300)
              for s in axis.tickStrings(vals, 1.0, sp) if s]
    assert 1 <= len(labels) <= 6, labels
    for s in labels:  # decades, or 1-2-5 steps within less than two decades
        assert s.startswith("10") or float(s) / 10 ** np.floor(np.log10(float(s))) in (1, 2, 5)
    # the ULA curve has the chains' colour, against the Langevin step
    assert win.metrics.drawn["ULA"] == win.theme.look("ULA", {s.name: s for s in frame.series}
                                                      ).colour
    assert win.metrics.xlabels["sliced W₂ to p"] == "Langevin step"
    assert _tick_values(plot.getAxis("bottom"))
