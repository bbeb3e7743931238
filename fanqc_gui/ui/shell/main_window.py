"""The main window: pages in tabs, the File, Edit and Help menus, the status bar. It composes; pages do the work.

Help holds Quick start and Keyboard shortcuts (help_dialogs.py); whoever adds Help > About appends it to
`help_menu`. The window's width never follows the length of a page's labels: pages cut long texts themselves.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QSize, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDialog, QLabel, QMainWindow, QTabWidget, QWidget

from fanqc_gui.core.paths import user_config_dir
from fanqc_gui.ui.shell.help_dialogs import QuickStartDialog, ShortcutsDialog

UI_STATE_VERSION = 1
STATUS_TIMEOUT_MS = 20_000


def window_settings() -> QSettings:
    """Geometry and layout only (domain settings live in core.app_settings), in the user's config dir."""
    return QSettings(str(user_config_dir() / "window.ini"), QSettings.Format.IniFormat)


def _first_size() -> QSize:
    """1440x900, or less on a smaller screen (a 1366x768 laptop, a 1280x720 panel PC): never larger than the
    screen's free area, so the title bar and the status bar stay on screen."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return QSize(1440, 900)
    free = screen.availableGeometry()
    return QSize(min(1440, free.width()), min(900, free.height()))


class MainWindow(QMainWindow):
    closing = Signal()  # emitted once, before the window closes: stop workers here

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("FanQC")
        self.setObjectName("mainWindow")
        self.resize(_first_size())
        self.tabs = QTabWidget(documentMode=True, objectName="pages")
        self.setCentralWidget(self.tabs)
        self.file_menu = self.menuBar().addMenu("&File")
        self.edit_menu = self.menuBar().addMenu("&Edit")
        self.help_menu = self.menuBar().addMenu("&Help")
        self.quick_start_action = self.help_menu.addAction("&Quick start")
        self.quick_start_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.HelpContents)
                                             or [QKeySequence("F1")])
        self.quick_start_action.triggered.connect(self.open_quick_start)
        self.shortcuts_action = self.help_menu.addAction("&Keyboard shortcuts")
        self.shortcuts_action.setShortcut(QKeySequence("Ctrl+/"))
        self.shortcuts_action.triggered.connect(self.open_shortcuts)
        self.help_menu.addSeparator()
        self.help_dialog: QDialog | None = None  # the one open now (non-modal: read it while working)
        self._workspace_label = QLabel("No workspace open", objectName="workspaceLabel")
        self.statusBar().addPermanentWidget(self._workspace_label)
        self._closed = False
        self._close_guards: list = []
        self._restore_geometry()

    def add_page(self, title: str, widget: QWidget) -> None:
        """Add a page; a page with a `status_message(str)` signal reports through the status bar."""
        self.tabs.addTab(widget, title)
        signal = getattr(widget, "status_message", None)
        if signal is not None:
            signal.connect(self.show_status)

    def pages(self) -> list[tuple[str, QWidget]]:
        return [(self.tabs.tabText(i), self.tabs.widget(i)) for i in range(self.tabs.count())]

    def add_edit_actions(self, actions: list[QAction]) -> None:
        self.edit_menu.addActions(actions)

    @Slot()
    def open_quick_start(self) -> QuickStartDialog:
        return self._show_help(QuickStartDialog(self))

    @Slot()
    def open_shortcuts(self) -> ShortcutsDialog:
        return self._show_help(ShortcutsDialog(self))  # read from the actions now: never stale

    def _show_help(self, dialog: QDialog) -> QDialog:
        if self.help_dialog is not None:
            self.help_dialog.close()
            self.help_dialog.deleteLater()
        self.help_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    def set_workspace_label(self, text: str) -> None:
        self._workspace_label.setText(text)
        self.setWindowTitle(f"FanQC — {text}" if text else "FanQC")

    def add_close_guard(self, may_close) -> None:
        """may_close() -> bool is asked before the window closes (e.g. "stop the training run?")."""
        self._close_guards.append(may_close)

    def closeEvent(self, event) -> None:
        if not self._closed and not all(guard() for guard in self._close_guards):
            event.ignore()
            return
        if not self._closed:
            self._closed = True
            self._save_geometry()
            self.closing.emit()
        event.accept()

    def _save_geometry(self) -> None:
        s = window_settings()
        s.setValue("ui/version", UI_STATE_VERSION)
        s.setValue("ui/geometry", self.saveGeometry())
        s.setValue("ui/state", self.saveState(UI_STATE_VERSION))
        s.sync()

    def _restore_geometry(self) -> None:
        s = window_settings()
        if int(s.value("ui/version", 0) or 0) != UI_STATE_VERSION:
            return
        geometry, state = s.value("ui/geometry"), s.value("ui/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, UI_STATE_VERSION)

    @property
    def current_page(self) -> QWidget | None:
        return self.tabs.currentWidget()

    def set_current_page(self, title: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                self.tabs.setCurrentIndex(i)
                return
        raise KeyError(title)
