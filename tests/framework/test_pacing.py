import numpy as np

from genlab.labs.frame import Frame, Panel
from genlab.labs.pacing import Plateau, ramp


def test_ramp_goes_from_one_step_to_full_speed():
    steps = [ramp(k, 20, frames=30) for k in range(40)]
    assert steps[0] == 1 and steps[-1] == 20
    assert all(b >= a for a, b in zip(steps, steps[1:], strict=False))
    assert sum(1 for s in steps if s <= 2) >= 5  # the first moves are shown one by one
    assert ramp(0, 0) == 1 and ramp(100, 5) == 5


def test_plateau_fires_when_the_series_levels_off_not_before():
    p = Plateau(window=10, rtol=0.01)
    falling = 1.0 / (1.0 + np.arange(30))
    assert not any(p.add(v) for v in falling)
    flat = 0.2 + 1e-4 * np.random.default_rng(0).standard_normal(25)
    fired = [p.add(v) for v in flat]
    assert fired[-1] and not fired[0]


def test_frame_pacing_fields_and_durations():
    from genlab.ui.export import durations

    frames = [Frame(0, "a", (Panel({}),)), Frame(1, "b", (Panel({}),), pace=3.0),
              Frame(2, "c", (Panel({}),), hold=1.5)]
    np.testing.assert_allclose(durations(frames, 20.0), [0.05, 0.15, 1.55])
