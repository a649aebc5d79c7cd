"""The training engine shared by every lab that trains and by ``genlab train``.

Submodules (import them directly; this package imports nothing, so the labs can use the
store without importing torch):

* ``store``      — trained models kept in memory by what determines them (no torch)
* ``jobs``       — work spread over frames within a time budget (no torch)
* ``progress``   — steps/s, ETA, loss history and a JSON progress file (no torch)
* ``checkpoint`` — one safetensors file + JSON metadata, no pickle; ``save_checkpoint``,
  ``load_checkpoint`` (ValueError, one line, for corrupt or foreign files),
  ``flatten_state`` / ``unflatten_state`` for optimiser state dicts (torch)
* ``ema``        — weight averaging with ``AveragedModel`` and a warm-up decay (torch)

The image trainer built on them is ``genlab.engine.images.trainer.ImageTrainer``.
"""
