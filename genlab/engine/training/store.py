"""The store of trained models: kept in memory by what determines them, so a lab that reruns
with the same data, architecture, seed and training budget reuses its nets instead of
training them again, and one mechanism replaces a cache per lab.

    from genlab.engine.training.store import STORE, model_key

    key = model_key("flow-matching", params_that_matter, data_array, device)  # "ns:digest"
    nets, made = STORE.get_or_make(key, lambda: train_nets(...))

A key is a short hex digest of plain values and array contents (``model_key``); the store
holds at most ``capacity`` entries and drops the least recently used first.  Entries are what
the lab puts there (trainers, samples already computed with them): the store never looks
inside.  No torch here: it is imported by the labs before they decide to train.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def model_key(namespace: str, *parts: Any) -> str:
    """``"namespace:digest"``, the digest of ``parts``: numbers, strings, None, dataclasses,
    tuples/lists/dicts of them, and numpy arrays (by dtype, shape and bytes).  Equal parts give
    equal keys in any process; ``namespace`` (a lab's name) lets a lab clear its own."""
    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if isinstance(x, np.ndarray):
            a = np.ascontiguousarray(x)
            h.update(f"array{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        elif isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=str):
                feed(str(k))
                feed(x[k])
            h.update(b"}")
        elif isinstance(x, list | tuple):
            h.update(b"(")
            for v in x:
                feed(v)
            h.update(b")")
        elif isinstance(x, float | int | str | bool) or x is None:
            h.update(json.dumps(x).encode() + b";")
        elif hasattr(x, "__dataclass_fields__"):
            feed(type(x).__qualname__)
            feed({k: getattr(x, k) for k in x.__dataclass_fields__})
        else:
            raise TypeError(f"model_key: cannot key a {type(x).__name__}")

    for p in parts:
        feed(p)
    return f"{namespace}:{h.hexdigest()[:32]}"


class ModelStore:
    """Trained models by key, least recently used dropped past ``capacity``; thread-safe
    (runs that train are in worker threads)."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = int(capacity)
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_make(self, key: str, make: Callable[[], T]) -> tuple[T, bool]:
        """(the stored value, False), or (``make()``, True) after storing it."""
        got = self.get(key)
        if got is not None:
            return got, False
        value = make()
        self.put(key, value)
        return value, True

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self, namespace: str = "") -> None:
        """Forget everything, or one namespace's entries."""
        with self._lock:
            for k in [k for k in self._items
                      if not namespace or k.split(":", 1)[0] == namespace]:
                del self._items[k]


STORE = ModelStore()
