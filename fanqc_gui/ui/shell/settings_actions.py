"""Edit > Settings… and Help > About: open the dialogs and apply accepted settings to the running app
(model store, camera station, theme) without a restart."""
from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from fanqc_gui.core.app_settings import AppSettings, save_settings
from fanqc_gui.core.paths import model_store_for
from fanqc_gui.core.station.station_settings import StationSettings
from fanqc_gui.ui.shell.about_dialog import AboutDialog
from fanqc_gui.ui.shell.main_window import MainWindow
from fanqc_gui.ui.shell.settings_dialog import SettingsDialog
from fanqc_gui.ui.theme import apply_theme


class SettingsActions(QObject):
    def __init__(self, window: MainWindow, settings: AppSettings, catalogue, training, insight, camera):
        super().__init__(window)
        self.window, self.settings, self.catalogue, self.store = window, settings, catalogue, catalogue.store
        self.training, self.insight, self.camera = training, insight, camera
        window.edit_menu.addSeparator()
        self.settings_action = window.edit_menu.addAction("&Settings…")
        self.settings_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
                                          or [QKeySequence("Ctrl+,")])
        self.settings_action.triggered.connect(self.open_settings)
        help_menu = window.help_menu
        self.about_action = help_menu.addAction("&About FanQC")
        self.about_action.triggered.connect(self.open_about)

    def settings_dialog(self) -> SettingsDialog:
        return SettingsDialog(self.settings, self.camera.settings, self.window)

    @Slot()
    def open_settings(self) -> None:
        dialog = self.settings_dialog()
        if dialog.exec():
            self.apply(dialog.app_settings(), dialog.station_settings())

    @Slot()
    def open_about(self) -> None:
        AboutDialog(self.window).exec()

    def apply(self, new: AppSettings, station: StationSettings) -> None:
        """Save and use the accepted settings. The settings object is shared with the File menu, so it is
        changed in place."""
        s = self.settings
        store_changed = (new.model_store or None) != (s.model_store or None)
        if store_changed and self.training.is_busy():
            self.window.show_status("⚠ The model store cannot change while training or a model job runs; "
                                    "the other settings were applied.")
            new.model_store = s.model_store
            store_changed = False
        problems: list[str] = []
        if store_changed:
            root = model_store_for(new.model_store)
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problems.append(f"cannot use the model store {root}: {exc.strerror or exc}; keeping {self.store.root}")
                new.model_store, store_changed = s.model_store, False
        s.default_workspace, s.model_store, s.theme = new.default_workspace, new.model_store, new.theme
        try:
            save_settings(s)
        except OSError as exc:
            problems.append(f"could not save the settings: {exc.strerror or exc} (they apply until FanQC closes)")
        if store_changed:
            self.store.root = root
            self.catalogue.notify_changed()  # every page re-reads the new store
        self.camera.apply_station_settings(station)
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, s.theme)
        if problems:
            self.window.show_status("⚠ " + "; ".join(problems))
        else:
            self.window.show_status("Settings saved." + (f" Model store: {self.store.root}" if store_changed else ""))
