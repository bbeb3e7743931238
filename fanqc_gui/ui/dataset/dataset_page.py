"""The dataset page: Inbox / GO / NG panes and a preview. Labelling an image = moving its file.

Every way of moving (keys G / N / I / Del, drag between panes, drops from the file manager, undo/redo)
goes through one core.dataset.file_moves.MoveJournal; the panes are then updated from what really happened on disk.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from fanqc_gui.core.dataset.file_moves import MoveJournal, MoveResult
from fanqc_gui.core.dataset.folder_listing import FolderListing, entry_for
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.ui.dataset.image_preview import ImagePreview
from fanqc_gui.ui.dataset.move_messages import describe_result
from fanqc_gui.ui.dataset.thumbnail_pane import ThumbnailPane
from fanqc_gui.ui.dataset.workspace_watcher import WorkspaceWatcher
from fanqc_gui.ui.elided_widgets import ElidedActionButton, ElidedLabel
from fanqc_gui.workers.dir_syncer import DirSyncer
from fanqc_gui.workers.folder_lister import FolderLister
from fanqc_gui.workers.image_loader import ImageLoader
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

PANES = ("inbox", "go", "ng")
DEFAULT_TITLES = {"inbox": "Inbox", "go": "GO", "ng": "NG", "trash": "Trash"}
MOVE_KEYS = {"go": "G", "ng": "N", "inbox": "I", "trash": "Del"}


class DatasetPage(QWidget):
    status_message = Signal(str)

    def __init__(self, thumbnails: ThumbnailLoader, lister: FolderLister, images: ImageLoader,
                 syncer: DirSyncer, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("datasetPage")
        self.workspace: Workspace | None = None
        self.journal: MoveJournal | None = None
        self._lister = lister
        self._syncer = syncer
        self._folders: dict[str, Path] = {}
        self.panes = {key: ThumbnailPane(key, DEFAULT_TITLES[key], thumbnails, self) for key in PANES}
        self._thumbnails = thumbnails
        self._active = self.panes["inbox"]
        self.preview = ImagePreview(images, self)
        self.watcher = WorkspaceWatcher(self)

        self.move_actions = {key: self._make_action(MOVE_KEYS[key], key) for key in MOVE_KEYS}
        self.move_actions["trash"].setShortcuts([QKeySequence.StandardKey.Delete, QKeySequence("Backspace")])
        self.undo_action = QAction("Undo", self, shortcut=QKeySequence("Ctrl+Z"))
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)

        self._build_layout()
        for pane in self.panes.values():
            pane.files_dropped.connect(lambda paths, pane=pane: self.drop_files(paths, pane.key))
            pane.activated.connect(lambda pane=pane: self._set_active(pane))
            pane.current_changed.connect(lambda path, pane=pane: self._on_pane_current_changed(pane, path))
        self.preview.step_requested.connect(self._on_preview_step_requested)
        lister.folder_listed.connect(self._on_lister_folder_listed)
        self.watcher.folder_changed.connect(self._on_watcher_folder_changed)
        self._update_actions()

    # --- layout ---
    def _make_action(self, key: str, dest: str) -> QAction:
        action = QAction(f"{key}  →  {DEFAULT_TITLES[dest]}", self, shortcut=QKeySequence(key))
        action.setStatusTip(f"Move the selected images to {DEFAULT_TITLES[dest]}")  # Help > Keyboard shortcuts
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda: self.move_selection(dest))
        self.addAction(action)
        return action

    def _build_layout(self) -> None:
        bar = QFrame(objectName="keyBar")
        bl = QHBoxLayout(bar)
        bl.setContentsMargins(10, 6, 10, 6)
        bl.setSpacing(6)
        bl.addWidget(QLabel("Sort the selection:", objectName="hint"))
        # Labels change with the workspace's folder names and the undo history: cut to a fixed width (full
        # text in the tooltip), or a long "Undo move of 12 images to NG" would widen the whole window.
        self._key_buttons = {}
        for key in ("go", "ng", "inbox", "trash"):
            button = ElidedActionButton(self.move_actions[key], 150)
            button.setObjectName("keyButton")
            button.setProperty("paneKind", key)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self._key_buttons[key] = button
            bl.addWidget(button)
        bl.addSpacing(16)
        self.undo_buttons = []
        for action in (self.undo_action, self.redo_action):
            button = ElidedActionButton(action, 190)
            button.setObjectName("keyButton")
            self.undo_buttons.append(button)
            bl.addWidget(button)
        self.drag_hint = ElidedLabel("Drag thumbnails between panes · drop files or folders here to copy them in",
                                     objectName="hint")
        self.drag_hint.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bl.addWidget(self.drag_hint, 1)  # shrinks (with "…") before anything else

        self.splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        for pane in self.panes.values():
            self.splitter.addWidget(pane)
        self.splitter.addWidget(self.preview)
        self.splitter.setSizes([370, 370, 370, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(bar)
        layout.addWidget(self.splitter, 1)

    # --- workspace ---
    @Slot(object)
    def set_workspace(self, ws: Workspace | None) -> None:
        self.workspace = ws
        self.journal = MoveJournal(ws.trash_dir, sync_dirs=self._syncer.sync) if ws else None
        self.watcher.clear()
        for pane in self.panes.values():
            pane.model.clear()
        self.preview.show_image("", "")
        if ws is None:
            self._folders = {}
            self._update_actions()
            return
        self._folders = {"inbox": ws.inbox_dir, "go": ws.go_dir, "ng": ws.ng_dir, "trash": ws.trash_dir}
        names = {**DEFAULT_TITLES, "go": ws.mapping.go_folder, "ng": ws.mapping.ng_folder}
        for key, pane in self.panes.items():
            pane.set_title(names[key])
            self._lister.list(key, str(self._folders[key]))
        for key, action in self.move_actions.items():
            action.setText(f"{MOVE_KEYS[key]}  →  {names[key]}")
            action.setToolTip(f"Move the selected images to {self._folders[key].name}/ ({MOVE_KEYS[key]})")
            action.setStatusTip(f"Move the selected images to {self._folders[key].name}/")
        self.watcher.watch(str(ws.root), {k: str(self._folders[k]) for k in PANES})
        self._set_active(self.panes["inbox"], force=True)
        self.panes["inbox"].focus_grid()
        self._update_actions()

    def folder(self, key: str) -> Path:
        return self._folders[key]

    def class_name(self, key: str) -> str:
        return {"inbox": "unsorted (inbox)", "trash": "trash"}.get(key) or self.panes[key].title

    @property
    def active_pane(self) -> ThumbnailPane:
        return self._active

    # --- moving ---
    def move_selection(self, dest: str) -> MoveResult | None:
        """Move the active pane's selection to dest ("go", "ng", "inbox", "trash") and select the next."""
        pane = self._active
        if self.journal is None:
            return None
        rows = pane.selected_rows()
        if not rows:
            self.status_message.emit("Select one or more images first (click a thumbnail, or use the arrow keys).")
            return None
        next_row = rows[0]
        if pane.key == dest:  # already there: confirm and go on to the next image
            pane.select_row(rows[-1] + 1)
            return None
        result = self.journal.move([pane.model.entry(r).path for r in rows], self._folders[dest])
        self._apply(result)
        pane.select_row(next_row)
        self.status_message.emit(describe_result(result, f"Moved to {self._folders[dest].name}/"))
        return result

    def drop_files(self, paths: list[str], dest: str) -> None:
        """Files dropped on a pane: workspace files are moved, files from outside are copied in."""
        if self.journal is None:
            return
        target = self._folders[dest]
        inside = [p for p in paths if Path(p).parent in self._folders.values()]
        outside = [p for p in paths if p not in inside]
        messages = []
        if inside:
            result = self.journal.move(inside, target)
            self._apply(result, select_in=dest)
            messages.append(describe_result(result, f"Moved to {target.name}/"))
        if outside:
            result = self.journal.import_files(outside, target)
            self._apply(result, select_in=dest)
            messages.append(describe_result(result, f"Copied into {target.name}/ (originals untouched)"))
        if any(m != "Nothing to move." for m in messages):
            self.status_message.emit("  ".join(messages))

    @Slot()
    def undo(self) -> None:
        if self.journal is None:
            return
        what = self.journal.describe_undo()
        result = self.journal.undo()
        if result is None:
            self.status_message.emit("Nothing to undo.")
            return
        self._apply(result, select_in="moved")
        self.status_message.emit(describe_result(result, f"Undone: {what}"))

    @Slot()
    def redo(self) -> None:
        if self.journal is None:
            return
        what = self.journal.describe_redo()
        result = self.journal.redo()
        if result is None:
            self.status_message.emit("Nothing to redo.")
            return
        self._apply(result, select_in="moved")
        self.status_message.emit(describe_result(result, f"Redone: {what}"))

    def _apply(self, result: MoveResult, select_in: str | None = None) -> None:
        """Show on the panes what the journal did on disk; re-list panes where a file was not as expected."""
        removed: dict[str, list[str]] = {}
        added: dict[str, list] = {}
        for src, dst in result.done:
            if (key := self._key_of(src.parent)) in self.panes:
                removed.setdefault(key, []).append(os.fspath(src))
            if (key := self._key_of(dst.parent)) in self.panes and (e := entry_for(dst)) is not None:
                added.setdefault(key, []).append(e)
            self._thumbnails.rename(os.fspath(src), os.fspath(dst))
        for key, paths in removed.items():
            self.panes[key].model.remove_paths(paths)
        for key, entries in added.items():
            self.panes[key].model.add_entries(entries)
        for src, _reason in result.failed:
            if (key := self._key_of(Path(src).parent)) in self.panes:
                self._lister.list(key, str(self._folders[key]))  # it vanished or changed: show the truth
        if select_in and added:
            key = select_in if select_in in added else next(iter(added))
            pane = self.panes[key]
            pane.select_paths([os.fspath(e.path) for e in added[key]])
            if select_in == "moved":
                self._set_active(pane)
                pane.focus_grid()
        self._update_actions()

    def _key_of(self, folder: Path) -> str | None:
        for key, f in self._folders.items():
            if f == folder:
                return key
        return None

    def refresh_after_outside_moves(self) -> None:
        """Another page moved files through the shared journal: update Undo/Redo (the watcher re-lists)."""
        self._update_actions()

    def _update_actions(self) -> None:
        has_ws = self.journal is not None
        for action in self.move_actions.values():
            action.setEnabled(has_ws)
        can_undo, can_redo = bool(has_ws and self.journal.can_undo), bool(has_ws and self.journal.can_redo)
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        self.undo_action.setText(f"Undo {self.journal.describe_undo()}" if can_undo else "Undo")
        self.redo_action.setText(f"Redo {self.journal.describe_redo()}" if can_redo else "Redo")

    # --- selection and preview ---
    def _set_active(self, pane: ThumbnailPane, force: bool = False) -> None:
        """The pane the keys act on: outlined, and shown in the preview."""
        if pane is self._active and not force:
            return
        self._active = pane
        for p in self.panes.values():
            p.setProperty("active", p is pane)
            p.style().unpolish(p)
            p.style().polish(p)
        self.preview.show_image(pane.current_path(), self.class_name(pane.key))

    def _on_pane_current_changed(self, pane: ThumbnailPane, path: str) -> None:
        if pane is self._active:
            self.preview.show_image(path, self.class_name(pane.key))

    @Slot(int)
    def _on_preview_step_requested(self, delta: int) -> None:
        self._active.step(delta)

    @Slot(str, object)
    def _on_lister_folder_listed(self, key: str, listing: FolderListing) -> None:
        if key in self.panes and self._folders.get(key) == Path(listing.folder):
            pane = self.panes[key]
            had_rows = pane.model.rowCount() > 0
            pane.model.set_listing(listing)
            if pane is self._active and not had_rows and not pane.selected_rows():
                pane.select_row(0)

    @Slot(str)
    def _on_watcher_folder_changed(self, key: str) -> None:
        if key in self._folders:
            self._lister.list(key, str(self._folders[key]))
