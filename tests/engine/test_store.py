from dataclasses import dataclass

import numpy as np
import pytest

from genlab.engine.training.store import ModelStore, model_key


@dataclass(frozen=True)
class P:
    lr: float = 0.01
    seed: int = 0


def test_keys_depend_on_what_determines_a_model_only():
    x = np.arange(6.0).reshape(3, 2)
    a = model_key("lab", P(), x, "cpu")
    assert a == model_key("lab", P(), x.copy(), "cpu")
    assert a.startswith("lab:")
    assert a != model_key("lab", P(seed=1), x, "cpu")
    assert a != model_key("lab", P(), x + 1e-12, "cpu")
    assert a != model_key("lab", P(), x.astype(np.float32), "cpu")
    assert a != model_key("other", P(), x, "cpu")
    with pytest.raises(TypeError):
        model_key("lab", object())


def test_store_reuses_and_drops_the_least_recently_used():
    store = ModelStore(capacity=2)
    made = []

    def make(v):
        made.append(v)
        return v

    assert store.get_or_make("a:1", lambda: make(1)) == (1, True)
    assert store.get_or_make("a:1", lambda: make(9)) == (1, False)
    store.put("b:2", 2)
    store.get("a:1")  # a is now the most recent
    store.put("a:3", 3)  # drops b
    assert "b:2" not in store and "a:1" in store and made == [1]
    store.clear("a")
    assert len(store) == 0


def test_jobs_advance_in_order_within_the_budget_and_always_move():
    from genlab.engine.training.jobs import Job, advance

    log = []
    a = Job("a", steps=10, cost=4.0, step=lambda k: log.append(("a", k)))
    b = Job("b", steps=5, cost=10.0, step=lambda k: log.append(("b", k)))
    assert advance([a, b], 30.0) == 28.0  # 7 steps of a; b does not fit in the 2 ms left
    assert log == [("a", 7)]
    advance([a, b], 30.0)  # a's last 3 (12 ms), then 1 of b (10 ms)
    assert log[1:] == [("a", 3), ("b", 1)] and a.finished
    advance([a, b], 1.0)  # over budget: still one step
    assert log[-1] == ("b", 1) and b.done == 2
