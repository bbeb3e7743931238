"""Recent verdicts from the inspection log, with thumbnails of saved captures, CSV export, and sending
selected captures to the inbox for labelling. Each row also says what triggered it, the part and lot id, the
trigger-to-result time and where the result was sent (PLC result id, MQTT sequence number).

The view reads the log through its own SQLite connection (the station writes through another; WAL lets
both work at once). New rows are inserted at the top so the selection survives a refresh.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.station.captures import send_files_to_inbox
from fanqc_gui.core.station.inspection_log import InspectionLog, InspectionLogError, LogRow, log_path
from fanqc_gui.ui.theme import colour
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

THUMB = 48
COLUMNS = ("", "Time", "Verdict", "P(NG)", "Part", "Lot", "Trigger", "Latency", "Sent to", "Threshold", "Model",
           "Image")
HEADER_TIPS = {"Trigger": "What triggered the verdict: continuous, software (button / Space), plc, mqtt, presence, "
                          "interval",
               "Latency": "From the trigger to the result being readable by the PLC / handed to MQTT",
               "Sent to": "Where the result went: modbus#<RESULT_ID>, mqtt#<sequence number>"}
FILTERS = (("All verdicts", {}), ("NG only", {"verdict": "NG"}), ("With image", {"with_image": True}))


class LogTableModel(QAbstractTableModel):
    def __init__(self, workspace: Workspace, thumbnails: ThumbnailLoader, limit: int = 200):
        super().__init__()
        self.workspace = workspace
        self.thumbnails = thumbnails
        self.limit = limit
        self.rows: list[LogRow] = []
        self._mtimes: dict[str, int] = {}
        self._pixmaps: dict[str, QPixmap] = {}

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(COLUMNS[section])
        return None

    def image_file(self, row: LogRow) -> str | None:
        return str(self.workspace.root / row.image_path) if row.image_path else None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            latency = "" if row.trigger_to_result_ms is None else f"{row.trigger_to_result_ms:.1f} ms"
            return (None, row.time_text[11:], row.verdict, f"{row.p_ng:.3f}", row.part_id or "", row.lot_id or "",
                    row.trigger_source or "", latency, row.sent_to or "", f"{row.threshold:.3f}", row.model_id,
                    Path(row.image_path).name if row.image_path else "")[col]
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._thumbnail(row)
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return QBrush(colour("ngText") if row.verdict == "NG" else colour("goText"))  # read per paint: theme
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.image_file(row) or "no image saved for this verdict"
        return None

    def _thumbnail(self, row: LogRow):
        path = self.image_file(row)
        if path is None or path not in self._mtimes:
            return None
        if path in self._pixmaps:
            return self._pixmaps[path]
        thumb = self.thumbnails.lookup(path, self._mtimes[path])
        if thumb is None or thumb.image is None:
            return None
        pixmap = QPixmap.fromImage(thumb.image)
        self._pixmaps[path] = pixmap
        return pixmap

    def add_newest(self, newest_first: list[LogRow]) -> None:
        """Insert rows (newest first) at the top and drop the oldest beyond the limit."""
        if newest_first:
            self.beginInsertRows(QModelIndex(), 0, len(newest_first) - 1)
            self.rows[0:0] = newest_first
            self.endInsertRows()
        extra = len(self.rows) - self.limit
        if extra > 0:
            self.beginRemoveRows(QModelIndex(), self.limit, len(self.rows) - 1)
            for gone in self.rows[self.limit:]:
                self._pixmaps.pop(self.image_file(gone) or "", None)
                self._mtimes.pop(self.image_file(gone) or "", None)
            del self.rows[self.limit:]
            self.endRemoveRows()
        self._request_thumbnails(newest_first)

    def replace_all(self, newest_first: list[LogRow]) -> None:
        self.beginResetModel()
        self.rows = list(newest_first[:self.limit])
        self._pixmaps.clear()
        self._mtimes.clear()
        self.endResetModel()
        self._request_thumbnails(self.rows)

    def _request_thumbnails(self, rows: list[LogRow]) -> None:
        items = []
        for row in rows:
            path = self.image_file(row)
            if path is None:
                continue
            try:
                self._mtimes[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
            items.append((path, self._mtimes[path]))
        if items:
            wanted = [(p, self._mtimes[p]) for r in self.rows if (p := self.image_file(r)) in self._mtimes]
            self.thumbnails.request("inspection-log", wanted[:self.limit])

    def on_thumbnails_ready(self, paths: list[str]) -> None:
        done = set(paths)
        for i, row in enumerate(self.rows):
            if self.image_file(row) in done:
                index = self.index(i, 0)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class InspectionLogView(QWidget):
    message = Signal(str)  # a result for the status line ("2 images sent to the inbox")

    def __init__(self, workspace: Workspace, thumbnails: ThumbnailLoader, parent: QWidget | None = None,
                 refresh_ms: int = 1000):
        super().__init__(parent)
        self.workspace = workspace
        self._log: InspectionLog | None = None
        self._filter: dict = {}
        self.model = LogTableModel(workspace, thumbnails)
        thumbnails.thumbnails_ready.connect(self._on_thumbnails_ready)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, THUMB + 8)
        self.filter_box = QComboBox()
        self.filter_box.addItems([name for name, _ in FILTERS])
        self.filter_box.currentIndexChanged.connect(self._on_filter_box_changed)
        self.inbox_button = QPushButton("Send selected to inbox")
        self.inbox_button.clicked.connect(self._on_inbox_button_clicked)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        for b in (self.inbox_button, self.export_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_box)
        bar.addStretch(1)
        bar.addWidget(self.inbox_button)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def _open_log(self) -> InspectionLog | None:
        if self.workspace is None:  # the app starts before a workspace is open
            return None
        if self._log is None and log_path(self.workspace.root).exists():
            try:
                self._log = InspectionLog.for_workspace(self.workspace.root)
            except InspectionLogError as exc:
                self.message.emit(str(exc))
        return self._log

    @Slot()
    def refresh(self) -> None:
        """Pick up rows written since the last refresh (cheap when nothing is new)."""
        log = self._open_log()
        if log is None or not self.isVisible() and self.model.rows:
            return
        since = self.model.rows[0].id if self.model.rows else 0
        self.model.add_newest(log.recent(self.model.limit, since_id=since, **self._filter))

    def selected_rows(self) -> list[LogRow]:
        picked = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[i] for i in picked]

    def send_selected_to_inbox(self) -> list[Path]:
        rows = [r for r in self.selected_rows() if r.image_path]
        if not rows:
            self.message.emit("Select logged verdicts that have a saved image first")
            return []
        sent, problems = send_files_to_inbox(self.workspace, [r.image_path for r in rows])
        text = f"{len(sent)} image{'s' if len(sent) != 1 else ''} sent to the inbox"
        self.message.emit(text + (f"; {len(problems)} failed: {problems[0]}" if problems else ""))
        return sent

    def export_csv(self, dest: str | Path) -> int:
        log = self._open_log()
        if log is None:
            self.message.emit("Nothing logged yet")
            return 0
        n = log.export_csv(dest)
        self.message.emit(f"Exported {n} verdicts to {dest}")
        return n

    def set_workspace(self, workspace: Workspace | None) -> None:
        """Show another workspace's log, from its newest row, all verdicts (as if freshly built)."""
        if self._log is not None:
            self._log.close()
            self._log = None
        self.workspace = self.model.workspace = workspace
        self._filter = {}
        self.filter_box.blockSignals(True)
        self.filter_box.setCurrentIndex(0)
        self.filter_box.blockSignals(False)
        self.model.replace_all([])
        self.table.clearSelection()
        self.refresh()

    def close_log(self) -> None:
        self._timer.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    @Slot(int)
    def _on_filter_box_changed(self, index: int) -> None:
        self._filter = FILTERS[index][1]
        log = self._open_log()
        self.model.replace_all(log.recent(self.model.limit, **self._filter) if log else [])

    @Slot()
    def _on_inbox_button_clicked(self) -> None:
        self.send_selected_to_inbox()

    @Slot()
    def _on_export_button_clicked(self) -> None:
        if self.workspace is None:
            self.message.emit("Open a workspace first: the inspection log lives in the workspace")
            return
        dest, _ = QFileDialog.getSaveFileName(self, "Export the inspection log", str(self.workspace.root /
                                              "inspections.csv"), "CSV files (*.csv)")
        if dest:
            try:
                self.export_csv(dest)
            except OSError as exc:
                self.message.emit(f"Cannot export: {exc.strerror or exc}")

    @Slot(list)
    def _on_thumbnails_ready(self, paths: list) -> None:
        self.model.on_thumbnails_ready(paths)
