"""Labels: a pool of TextItems naming points; the canvas places them (``placement``)."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from genlab.labs.frame import Labels
from genlab.ui.items.base import LayerItem


def text_html(text: str, colour: str, pt: float) -> str:
    return (f'<span style="color:{colour}; font-size:{pt:.1f}pt">'
            f"{html.escape(text)}</span>")


class LabelsItem(LayerItem):
    kind = Labels

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.texts: list[pg.TextItem] = []
        self.xy = np.zeros((0, 2))

    def update(self, layer: Labels) -> None:
        th = self.theme
        # a translucent backing keeps a label legible over a dense cloud or a line
        bg = pg.mkColor(th.background)
        bg.setAlpha(170)
        while len(self.texts) < len(layer.texts):
            self.texts.append(self.add(pg.TextItem(anchor=(0.5, 0.5), fill=pg.mkBrush(bg))))
        for t in self.texts:
            t.fill = pg.mkBrush(bg)
        colour = self.look(layer.series).colour
        self.xy = np.array(layer.xy[:len(layer.texts)], float)
        for i, item in enumerate(self.texts):
            if i >= len(layer.texts):
                item.setVisible(False)
                continue
            item.setHtml(text_html(layer.texts[i], colour, th.font_pt))
            item.setPos(float(layer.xy[i, 0]), float(layer.xy[i, 1]))
            item.setVisible(True)

    def labels(self) -> list[tuple[float, float, pg.TextItem]]:
        return [(float(x), float(y), t) for (x, y), t in zip(self.xy, self.texts, strict=False)]

    def anchors(self) -> np.ndarray:
        return self.xy
