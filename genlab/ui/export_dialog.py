"""The Export animation dialog: a range of the timeline, fps, size, scale and a file."""

from __future__ import annotations

from PySide6 import QtWidgets

from genlab.ui.export import DEFAULT_OPTIONS, ExportOptions


class ExportDialog(QtWidgets.QDialog):
    """``fps``: the playback speed, the default (an animation plays as it did on screen)."""

    def __init__(self, n_frames: int, size: tuple[int, int], parent=None,
                 fps: float = 20.0, options: ExportOptions = DEFAULT_OPTIONS) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        form = QtWidgets.QFormLayout(self)
        self.first = QtWidgets.QSpinBox()
        self.first.setRange(1, max(n_frames, 1))
        self.first.setValue(1)
        self.last = QtWidgets.QSpinBox()
        self.last.setRange(1, max(n_frames, 1))
        self.last.setValue(max(n_frames, 1))
        self.fps = QtWidgets.QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(int(round(fps)) if fps > 0 else 30)
        self.width_box = QtWidgets.QSpinBox()
        self.width_box.setRange(160, 3840)
        self.width_box.setValue(size[0])
        self.height_box = QtWidgets.QSpinBox()
        self.height_box.setRange(120, 2160)
        self.height_box.setValue(size[1])
        self.scale_box = QtWidgets.QDoubleSpinBox()
        self.scale_box.setRange(0.5, 4.0)
        self.scale_box.setSingleStep(0.25)
        self.scale_box.setValue(options.scale)
        self.scale_box.setToolTip("Fonts, lines and markers times this (2 for 4K or print)")
        self.metrics_box = QtWidgets.QCheckBox("include the metric plots")
        self.metrics_box.setChecked(options.metrics)
        self.fmt = QtWidgets.QComboBox()
        self.fmt.addItems(["GIF (.gif)", "MP4 video (.mp4)"])
        form.addRow("first frame", self.first)
        form.addRow("last frame", self.last)
        form.addRow("frames per second", self.fps)
        form.addRow("width (px)", self.width_box)
        form.addRow("height (px)", self.height_box)
        form.addRow("text and line scale", self.scale_box)
        form.addRow("", self.metrics_box)
        form.addRow("format", self.fmt)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @property
    def suffix(self) -> str:
        return ".gif" if self.fmt.currentIndex() == 0 else ".mp4"

    def choice(self) -> tuple[int, int, int, tuple[int, int]]:
        """(start, stop) as timeline indices [start, stop), fps, size."""
        a, b = sorted((self.first.value(), self.last.value()))
        return a - 1, b, self.fps.value(), (self.width_box.value(), self.height_box.value())

    def options(self) -> ExportOptions:
        return ExportOptions(scale=self.scale_box.value(), metrics=self.metrics_box.isChecked())
