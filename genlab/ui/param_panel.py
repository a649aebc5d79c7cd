"""The parameter panel, generated from a lab's Params dataclass.

Numbers get a slider plus a text box (typed values are checked and refused with a message,
the last good value staying); choices a combo box; flags a check box.  Every widget's
tooltip gives the field's help text and its range.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6 import QtCore, QtWidgets

from genlab.labs.params import ParamError, ParamField, is_visible, param_fields

TICKS = 1000
MAX_SLIDER_INTS = 2000  # wider integer ranges (seeds, LCG moduli) get a text box only


def _fmt(f: ParamField, v: Any) -> str:
    if f.type is int:
        return str(int(v))
    return f"{v:.4g}"


class NumberField(QtWidgets.QWidget):
    """Slider + text box for an int or float field; emits ``edited(value)``."""

    edited = QtCore.Signal(object)
    refused = QtCore.Signal(str)
    finished = QtCore.Signal()  # Enter or Esc in the text box: typing is over

    def __init__(self, f: ParamField, parent=None) -> None:
        super().__init__(parent)
        self.f = f
        s = f.spec
        self.lo, self.hi = float(s.lo), float(s.hi)
        self.value: Any = f.default
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.slider: QtWidgets.QSlider | None = None
        span = self.hi - self.lo
        if not (f.type is int and span > MAX_SLIDER_INTS):
            self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            n = int(span) if f.type is int and not s.log else TICKS
            self.slider.setRange(0, n)
            self.slider.valueChanged.connect(self._from_slider)
            lay.addWidget(self.slider, 3)
        self.text = QtWidgets.QLineEdit()
        self.text.setMaximumWidth(90 if self.slider is not None else 160)
        self.text.editingFinished.connect(self._from_text)
        self.text.returnPressed.connect(self.finished)
        self.text.installEventFilter(self)
        lay.addWidget(self.text, 1)
        self.set_value(f.default)

    # slider position <-> value
    def _to_pos(self, v: float) -> int:
        assert self.slider is not None
        n = self.slider.maximum()
        if self.f.spec.log:
            t = (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return int(round(min(max(t, 0.0), 1.0) * n))

    def _from_pos(self, pos: int) -> Any:
        assert self.slider is not None
        t = pos / self.slider.maximum()
        if self.f.spec.log:
            v = math.exp(math.log(self.lo) + t * (math.log(self.hi) - math.log(self.lo)))
            v = float(f"{v:.3g}")
        else:
            v = self.lo + t * (self.hi - self.lo)
            if self.f.spec.step:
                v = self.lo + round((v - self.lo) / self.f.spec.step) * self.f.spec.step
        v = min(max(v, self.lo), self.hi)
        return int(round(v)) if self.f.type is int else float(f"{v:.6g}")

    def set_value(self, v: Any) -> None:
        self.value = v
        self.text.setText(_fmt(self.f, v))
        if self.slider is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_pos(float(v)))
            self.slider.blockSignals(False)

    def _from_slider(self, pos: int) -> None:
        v = self._from_pos(pos)
        if v != self.value:
            self.value = v
            self.text.setText(_fmt(self.f, v))
            self.edited.emit(v)

    def eventFilter(self, obj, ev) -> bool:
        esc = obj is self.text and ev.type() in (QtCore.QEvent.Type.KeyPress,
                                                 QtCore.QEvent.Type.ShortcutOverride) \
            and ev.key() == QtCore.Qt.Key.Key_Escape
        if esc and ev.type() == QtCore.QEvent.Type.ShortcutOverride:
            ev.accept()  # Esc in the field is the field's, not the window's "stop"
            return True
        if esc:
            self.text.setText(_fmt(self.f, self.value))  # Esc abandons what was typed
            self.finished.emit()
            return True
        return super().eventFilter(obj, ev)

    def _from_text(self) -> None:
        raw = self.text.text()
        if raw == _fmt(self.f, self.value):
            return
        try:
            v = self.f.coerce(raw)
        except ParamError as e:
            self.text.setText(_fmt(self.f, self.value))
            self.refused.emit(f"{e}; kept {_fmt(self.f, self.value)}.")
            return
        self.set_value(v)
        self.edited.emit(v)


class ParamPanel(QtWidgets.QWidget):
    """Widgets for every field of a Params class; ``edited(name, value)`` on user edits."""

    edited = QtCore.Signal(str, object)
    refused = QtCore.Signal(str)
    finished = QtCore.Signal()  # an edit is over: the window gives the keys back to the canvas

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.form = QtWidgets.QFormLayout(self)
        self.form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: list[ParamField] = []
        self.widgets: dict[str, QtWidgets.QWidget] = {}
        self.labels: dict[str, QtWidgets.QLabel] = {}
        self.params: Any = None

    def build(self, params_cls: type) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.widgets.clear()
        self.labels.clear()
        self.fields = param_fields(params_cls)
        for f in self.fields:
            w = self._make(f)
            w.setToolTip(f.tooltip())
            label = QtWidgets.QLabel(f.label)
            label.setToolTip(f.tooltip())
            self.form.addRow(label, w)
            self.widgets[f.name] = w
            self.labels[f.name] = label
        self.params = None

    def _make(self, f: ParamField) -> QtWidgets.QWidget:
        name = f.name
        if f.spec.choices is not None:
            w = QtWidgets.QComboBox()
            w.addItems(list(f.spec.choices))
            w.currentTextChanged.connect(lambda v, n=name: self.edited.emit(n, v))
            w.activated.connect(self.finished)
            return w
        if f.type is bool:
            w = QtWidgets.QCheckBox()
            w.toggled.connect(lambda v, n=name: self.edited.emit(n, bool(v)))
            w.clicked.connect(self.finished)
            return w
        if f.type in (int, float):
            w = NumberField(f)
            w.edited.connect(lambda v, n=name: self.edited.emit(n, v))
            w.refused.connect(self.refused)
            w.finished.connect(self.finished)
            if w.slider is not None:
                w.slider.sliderReleased.connect(self.finished)
            return w
        w = QtWidgets.QLineEdit()
        w.editingFinished.connect(lambda n=name, e=w: self.edited.emit(n, e.text()))
        w.returnPressed.connect(self.finished)
        return w

    def set_params(self, params: Any) -> None:
        """Show ``params`` (no ``edited`` signals) and the fields visible with them."""
        self.params = params
        for f in self.fields:
            w = self.widgets[f.name]
            v = getattr(params, f.name)
            w.blockSignals(True)
            if isinstance(w, QtWidgets.QComboBox):
                w.setCurrentText(str(v))
            elif isinstance(w, QtWidgets.QCheckBox):
                w.setChecked(bool(v))
            elif isinstance(w, NumberField):
                if v != w.value:
                    w.set_value(v)
            elif isinstance(w, QtWidgets.QLineEdit):
                w.setText(str(v))
            w.blockSignals(False)
            visible = is_visible(f, params)
            w.setVisible(visible)
            self.labels[f.name].setVisible(visible)
