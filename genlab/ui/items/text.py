"""Labels: a pool of TextItems anchored at data coordinates."""

from __future__ import annotations

import html

import pyqtgraph as pg

from genlab.labs.frame import Labels
from genlab.ui.items.base import LayerItem


class LabelsItem(LayerItem):
    kind = Labels

    def __init__(self, plot: pg.PlotItem, theme) -> None:
        super().__init__(plot, theme)
        self.texts: list[pg.TextItem] = []

    def update(self, layer: Labels) -> None:
        th = self.theme
        while len(self.texts) < len(layer.texts):
            self.texts.append(self.add(pg.TextItem(anchor=(0.5, 1.2))))
        for i, item in enumerate(self.texts):
            if i >= len(layer.texts):
                item.setVisible(False)
                continue
            color = th.foreground if layer.series < 0 else th.color(layer.series)
            item.setHtml(f'<span style="color:{color}; font-size:{th.font_pt:.0f}pt">'
                         f"{html.escape(layer.texts[i])}</span>")
            item.setPos(float(layer.xy[i, 0]), float(layer.xy[i, 1]))
            item.setVisible(True)
