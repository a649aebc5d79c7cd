"""Choosing the torch device: CUDA or MPS when present, the CPU otherwise."""

from __future__ import annotations

from functools import cache


@cache
def best_device() -> str:
    """"cuda", "mps" or "cpu" (imports torch: call it only when a run trains)."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve(device: str) -> str:
    """``"auto"`` -> best_device(); anything else is returned unchanged."""
    return best_device() if device == "auto" else device
