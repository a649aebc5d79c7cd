"""Persistent preferences (theme, scale).  GENLAB_CONFIG points tests at a scratch file."""

from __future__ import annotations

import os

from PySide6 import QtCore


def settings() -> QtCore.QSettings:
    path = os.environ.get("GENLAB_CONFIG")
    if path:
        return QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                            "genlab", "genlab")


def load_prefs() -> tuple[str, float]:
    s = settings()
    theme = str(s.value("theme", "light"))
    try:
        scale = float(s.value("scale", 1.0))
    except (TypeError, ValueError):
        scale = 1.0
    return ((theme if theme in ("light", "dark", "projector") else "light"),
            min(max(scale, 0.5), 3.0))


def save_prefs(theme: str, scale: float) -> None:
    s = settings()
    s.setValue("theme", theme)
    s.setValue("scale", float(scale))
    s.sync()
