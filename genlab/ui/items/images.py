"""ImageGrid: image-scale samples tiled into one ImageItem."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from genlab.labs.frame import ImageGrid
from genlab.ui.items.base import LayerItem


def tile(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """(n, h, w[, 3]) -> one (rows*(h+pad), cols*(w+pad)[, 3]) mosaic, row 0 at the top."""
    n, h, w = images.shape[:3]
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    shape = (rows * (h + pad), cols * (w + pad)) + images.shape[3:]
    out = np.ones(shape, np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[i]
    return out[::-1]  # the plot's y axis points up


class ImageGridItem(LayerItem):
    kind = ImageGrid

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.image = self.add(pg.ImageItem(axisOrder="row-major"))

    def update(self, layer: ImageGrid) -> None:
        if len(layer.images) == 0:
            self.image.clear()
            return
        mosaic = tile(np.clip(layer.images, 0, 1), layer.cols)
        self.image.setImage(mosaic, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(QtCore.QRectF(0, 0, mosaic.shape[1], mosaic.shape[0]))
