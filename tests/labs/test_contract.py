"""One contract over every registered lab and every preset."""

from __future__ import annotations

import dataclasses
import itertools
import time
import unicodedata

import numpy as np
import pytest

from genlab.engine.training.store import STORE
from genlab.labs import LABS, RunContext
from genlab.labs.frame import INK, MUTED, Frame, Handles, Layer
from genlab.labs.params import param_fields, validate
from genlab.labs.presets import presets_for

N_FRAMES = 6
DRAWN = np.random.default_rng(1).normal(size=(150, 2)) * [1.5, 0.6] + [0.5, -0.5]
DRAWN_LABELS = (DRAWN[:, 0] > 0.5).astype(np.int64)  # painted in two colours
PICKS = np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]])
CTX = RunContext(drawn=DRAWN, drawn_labels=DRAWN_LABELS, picks=PICKS)

LAB_NAMES = list(LABS)
PRESETS = [(lab, p.name) for lab in LAB_NAMES for p in presets_for(lab)]


def _frames(lab, params, n=N_FRAMES, ctx=CTX) -> list[Frame]:
    # Labs that train resume a model kept in the session's store; a run compared with
    # another starts from the same state, as in a fresh process.
    STORE.clear()
    gen = lab.run(params, ctx)
    try:
        return list(itertools.islice(gen, n))
    finally:
        gen.close()


def _check_numpy_only(frame: Frame) -> None:
    assert isinstance(frame, Frame)
    assert isinstance(frame.step, int) and isinstance(frame.title, str)
    assert isinstance(frame.caption, str) and frame.caption, "every frame says what it shows"
    for v in frame.metrics.values():
        assert isinstance(v, float)
    for panel in frame.panels:
        for layer in panel.layers.values():
            assert isinstance(layer, Layer)
            for f in dataclasses.fields(layer):
                v = getattr(layer, f.name)
                assert v is None or isinstance(v, np.ndarray | int | float | bool | str | tuple), \
                    f"{type(layer).__name__}.{f.name} is {type(v).__name__}"
                if isinstance(v, tuple):
                    allowed = int | float | str | np.ndarray
                    assert all(x is None or isinstance(x, allowed) for x in v)
    assert frame.first_nonfinite() is None


def _same(a: Frame, b: Frame) -> bool:
    if (a.step, a.title, a.caption, dict(a.metrics)) != (b.step, b.title, b.caption,
                                                         dict(b.metrics)):
        return False
    arrays_a, arrays_b = list(a.arrays()), list(b.arrays())
    if len(arrays_a) != len(arrays_b):
        return False
    pairs = zip(arrays_a, arrays_b, strict=True)
    return all(na == nb and np.array_equal(xa, xb) for (na, xa), (nb, xb) in pairs)


def test_registry_has_the_labs():
    assert {"sampling", "em", "ot", "flow", "divergence"} <= set(LABS)
    for name, lab in LABS.items():
        assert lab.name == name and lab.title and lab.description
        assert presets_for(name), f"lab {name} ships no preset"


@pytest.mark.parametrize("name", LAB_NAMES)
def test_defaults_valid_with_seed_and_help(name):
    lab = LABS[name]
    params = lab.params()
    validate(params)
    fields = param_fields(lab.params)
    assert any(f.name == "seed" for f in fields)
    for f in fields:
        assert f.spec.help, f"{name}.{f.name} has no help text"
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", LAB_NAMES)
def test_frames_numpy_only_and_deterministic(name):
    lab = LABS[name]
    a = _frames(lab, lab.params())
    b = _frames(lab, lab.params())
    assert a, "no first frame"
    for f in a:
        _check_numpy_only(f)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True)), "same seed, different frames"


def _check_handles(frame: Frame, params_cls: type) -> None:
    """Every handle is bound to a numeric field of the lab (or to nothing on that axis)."""
    numeric = {f.name for f in param_fields(params_cls)
               if f.type in (int, float) and f.spec.lo is not None}
    for panel in frame.panels:
        for layer in panel.layers.values():
            if isinstance(layer, Handles):
                for name in (*layer.x_params, *layer.y_params):
                    assert name is None or name in numeric, f"handle bound to '{name}'"


def _combining(text: str) -> str | None:
    """The first combining mark in text (they render detached from their letter: "tiṁe",
    hats off their letters), with its context, else None."""
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Mn":
            return text[max(0, i - 12):i + 12]
    return None


def _check_identity(frame: Frame, lab) -> None:
    """One identity per series: a frame that names series carries exactly the lab's table;
    every metric or value series is one of them (its curve has the look of the thing in the
    panels); no on-screen text holds a combining mark."""
    declared = {s.name for s in lab.series}
    named = any(panel.series_names() for panel in frame.panels)
    if named or frame.metrics or frame.values:
        assert frame.series == lab.series, "a frame's series differ from the lab's table"
    for name in (*frame.metrics, *frame.values):
        series = name.partition("/")[2]
        assert not series or series in declared, \
            f"metric '{name}': series '{series}' is not one of the lab's named series"
    for text in frame.texts():
        bad = _combining(text)
        assert bad is None, f"combining mark in on-screen text: {bad!r}"


@pytest.mark.parametrize("name", LAB_NAMES)
def test_series_are_named_once_and_told_apart(name):
    from genlab.ui.theme import DARK, LIGHT, lab_distance

    lab = LABS[name]
    names = [s.name for s in lab.series]
    assert len(names) == len(set(names))
    for theme in (LIGHT, DARK):
        for i, a in enumerate(lab.series):
            for b in lab.series[i + 1:]:
                if a.dashed != b.dashed or a.marker != b.marker and a.colour == b.colour:
                    continue  # told apart by the line style or marker
                if {a.colour, b.colour} <= {INK, MUTED} and a.colour != b.colour:
                    continue
                ca, cb = theme.colour_of(a.colour), theme.colour_of(b.colour)
                assert lab_distance(ca, cb) >= 40, \
                    f"{name}: '{a.name}' and '{b.name}' look alike ({ca} vs {cb})"


@pytest.mark.parametrize("name", LAB_NAMES)
def test_texts_shown_around_the_lab_have_no_combining_marks(name):
    lab = LABS[name]
    texts = [lab.title, lab.description]
    for f in param_fields(lab.params):
        texts += [f.spec.help, f.label]
    for p in presets_for(name):
        texts += [p.name, p.description]
    for t in texts:
        assert _combining(t) is None, f"combining mark in {t!r}"


@pytest.mark.parametrize("lab_name,preset", PRESETS)
def test_every_preset_runs(lab_name, preset):
    lab = LABS[lab_name]
    p = next(p for p in presets_for(lab_name) if p.name == preset)
    params = p.params(lab.params)
    validate(params)
    frames = _frames(lab, params)
    assert frames
    for f in frames:
        _check_numpy_only(f)
        _check_handles(f, lab.params)
        _check_identity(f, lab)


@pytest.mark.parametrize("name", LAB_NAMES)
def test_cancel_honoured_within_half_a_second(name, qapp):
    from genlab.ui.worker import RunThread

    lab = LABS[name]
    params = presets_for(name)[0].params(lab.params)
    thread = RunThread(1, lambda: lab.run(params, CTX), fps=0)
    got = []
    thread.frame_ready.connect(lambda g, f: (got.append(f), thread.ack()))
    thread.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        qapp.processEvents()
        thread.wait(10)
    assert got, "no frame within 30 s"
    t0 = time.monotonic()
    thread.cancel()
    assert thread.wait(500) or thread.isFinished(), "cancel not honoured within 0.5 s"
    assert time.monotonic() - t0 < 0.5 + 0.05
