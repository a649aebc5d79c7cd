"""Graphics items that draw one frame layer each, reused frame after frame via setData."""

# Importing the item modules registers them for their layer kinds.
from genlab.ui.items import (  # noqa: F401
    arrows,
    ellipses,
    handles,
    heatmap,
    images,
    lines,
    points,
    text,
)
from genlab.ui.items.base import LayerItem, item_for

__all__ = ["LayerItem", "item_for"]
