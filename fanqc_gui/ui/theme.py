"""Light and dark themes: the Fusion palette plus fanqc.qss with its @colour names filled in.

"system" follows the desktop's light/dark setting (Qt's style hints), also when it changes while FanQC runs.
"""
from __future__ import annotations

import re
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

LIGHT = {
    "window": "#f3f4f6", "hint": "#6b7280", "label": "#4b5563", "panel": "#ffffff", "border": "#d9dce1",
    "buttonBorder": "#c9cdd3", "button": "#f9fafb", "strong": "#374151", "hover": "#eef2f7", "pressed": "#dfe5ee",
    "disabled": "#a1a7b0", "goText": "#1d6b33", "goBorder": "#8fcb9f", "goButton": "#eef8f0", "ngText": "#a3241c",
    "ngBorder": "#e6a19b", "ngButton": "#fcefee", "active": "#5b8def", "drop": "#2f6fe0", "dropFill": "#eef4ff",
    "header": "#eceff3", "goHeader": "#e2f3e6", "goLine": "#34a853", "ngHeader": "#fbe4e2", "ngLine": "#d93025",
    "inboxLine": "#9aa3ae", "countFill": "rgba(0, 0, 0, 0.08)",
    "warnFill": "#fff4ce", "warnText": "#5c4400", "warnBorder": "#e0c36a", "text": "#111827",
    "plotBackground": "#ffffff", "plotForeground": "#374151", "cellFill": "#ffffff", "cellText": "#111827",
    "plotTrain": "#1f6fb4", "plotVal": "#d46f00",
}
DARK = {
    "window": "#1d2026", "hint": "#9aa3ae", "label": "#b4bcc7", "panel": "#262a31", "border": "#3a3f47",
    "buttonBorder": "#4a505a", "button": "#2d3139", "strong": "#e5e7eb", "hover": "#353a43", "pressed": "#404652",
    "disabled": "#6b7280", "goText": "#86dc98", "goBorder": "#2f6b3d", "goButton": "#1f3326", "ngText": "#ff9a90",
    "ngBorder": "#7a3531", "ngButton": "#3a2423", "active": "#6b9bff", "drop": "#4f8bff", "dropFill": "#23314d",
    "header": "#2b2f36", "goHeader": "#1f3326", "goLine": "#34a853", "ngHeader": "#3a2423", "ngLine": "#e0463a",
    "inboxLine": "#6b7280", "countFill": "rgba(255, 255, 255, 0.12)",
    "warnFill": "#4a3b0b", "warnText": "#ffe7a3", "warnBorder": "#8a6d1c", "text": "#e5e7eb",
    "plotBackground": "#1f2329", "plotForeground": "#d1d5db", "cellFill": "#262a31", "cellText": "#e5e7eb",
    "plotTrain": "#6cb4ff", "plotVal": "#ffa040",
}

_following_system: list[QApplication] = []


def style_sheet(scheme: str = "light") -> str:
    colours = DARK if scheme == "dark" else LIGHT
    text = (resources.files("fanqc_gui") / "resources" / "fanqc.qss").read_text(encoding="utf-8")
    return re.sub(r"@(\w+)", lambda m: colours.get(m.group(1), m.group(0)), text)


def system_scheme(app: QApplication) -> str:
    return "dark" if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"


def effective_scheme(app: QApplication, theme: str) -> str:
    return theme if theme in ("light", "dark") else system_scheme(app)


def apply_theme(app: QApplication, theme: str = "system") -> str:
    """Apply "system", "light" or "dark"; returns the scheme now shown ("light" or "dark")."""
    scheme = effective_scheme(app, theme)
    app.setProperty("fanqcScheme", scheme)  # first: widgets read colour() when the palette change reaches them
    app.setPalette(dark_palette() if scheme == "dark" else app.style().standardPalette())
    app.setStyleSheet(style_sheet(scheme))
    if theme == "system" and app not in _following_system:
        _following_system.append(app)
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_system(app))
    elif theme != "system" and app in _following_system:
        _following_system.remove(app)
    return scheme


def _follow_system(app: QApplication) -> None:
    if app in _following_system:
        apply_theme(app, "system")


def current_scheme() -> str:
    app = QApplication.instance()
    return (app.property("fanqcScheme") if app is not None else None) or "light"


def colour(name: str) -> QColor:
    """A named colour of the scheme now shown (see LIGHT / DARK). Widgets that paint with it re-read it on
    QEvent.PaletteChange, which every widget receives when the theme changes."""
    table = DARK if current_scheme() == "dark" else LIGHT
    return QColor(table[name])


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#262a31"), QColor("#1d2026"), QColor("#e5e7eb")
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base, QPalette.ColorRole.AlternateBase: QColor("#2d3139"),
        QPalette.ColorRole.ToolTipBase: QColor("#2d3139"), QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#8b93a0"), QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#2d3139"), QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"), QPalette.ColorRole.Link: QColor("#6b9bff"),
        QPalette.ColorRole.Highlight: QColor("#3d6fd6"), QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Light: QColor("#3a3f47"), QPalette.ColorRole.Midlight: QColor("#33383f"),
        QPalette.ColorRole.Mid: QColor("#2b2f36"), QPalette.ColorRole.Dark: QColor("#15171b"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    return p
