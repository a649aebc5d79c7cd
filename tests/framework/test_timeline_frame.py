import numpy as np
import pytest

from genlab.labs.frame import Ellipses, Frame, Panel, Points, message_frame
from genlab.ui.timeline import Timeline


def _frame(step, n=100, value=0.0):
    return Frame(step=step, title="t", panels=(Panel({"p": Points(np.full((n, 2), value))}),),
                 metrics={"m": value})


def test_frame_is_numpy_and_read_only():
    f = _frame(0)
    xy = f.panels[0].layers["p"].xy
    assert isinstance(xy, np.ndarray) and xy.shape == (100, 2)
    with pytest.raises(ValueError):
        xy[0, 0] = 1.0
    assert f.nbytes >= xy.nbytes


def test_first_nonfinite():
    assert _frame(0).first_nonfinite() is None
    assert "metric" in _frame(0, value=np.nan).first_nonfinite()
    f = Frame(0, "t", (Panel({"e": Ellipses(np.zeros((1, 2)), np.full((1, 2, 2), np.inf))}),))
    assert "e.covs" in f.first_nonfinite()
    assert message_frame("t", "c").first_nonfinite() is None


def test_timeline_memory_bound_drops_oldest():
    one = _frame(0).nbytes
    tl = Timeline(max_bytes=10 * one, max_frames=1000)
    for i in range(25):
        tl.append(_frame(i))
    assert len(tl) == 10 and tl.dropped == 15
    assert tl.nbytes <= 10 * one
    assert [f.step for f in tl.frames()] == list(range(15, 25))
    tl2 = Timeline(max_frames=5)
    for i in range(8):
        tl2.append(_frame(i))
    assert len(tl2) == 5 and tl2[0].step == 3


def test_layers_copy_the_lab_arrays_instead_of_freezing_them():
    xy = np.zeros((4, 2))
    layer = Points(xy)
    xy[0] = 5.0  # the lab goes on updating its own array in place
    assert layer.xy[0, 0] == 0.0  # the frame keeps what it was given
    assert not layer.xy.flags.writeable
