"""The table model behind the prediction table, and its filter proxy.

Sorting is done here with numpy (a permutation of the rows, persistent indexes moved along), because a
QSortFilterProxyModel sort calls back into Python for every comparison: half a second for 5,000 rows. The
proxy only filters (wrong / uncertain / inbox / one confusion-matrix cell / name) and forwards `sort`.
"""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Callable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QPixmap

from fanqc_gui.core.insight.explanations import UNCERTAIN_BAND
from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
from fanqc_gui.ui import theme
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

COLUMNS = ("", "File", "Folder", "P(NG)", "Verdict", "Result", "Wrong by")
THUMB, FILE, FOLDER, P_NG, VERDICT, RESULT, WRONG_BY = range(len(COLUMNS))
ICON = 40
PIXMAP_CACHE = 3000
RowRole = Qt.ItemDataRole.UserRole + 1
FOLDER_COLOURS = {"GO": "goText", "NG": "ngText", "inbox": "label"}  # theme colour names, read as drawn
HEADER_TIPS = {
    FOLDER: "The folder the image is filed in: its label (inbox = not labelled yet)",
    P_NG: "Probability of NG (defect) from the engine the station uses",
    VERDICT: "NG when P(NG) ≥ the threshold set on the right",
    RESULT: "Does the verdict match the folder?",
    WRONG_BY: "How wrong: |label − P(NG)|, 1 = confidently wrong, 0 = confidently right",
}
# An anomaly model's score is normalised like P(NG) (its threshold works the same way) but means something else.
ANOMALY_SCORE = "Anomaly"  # the column is narrow; its tooltip says what the score is
ANOMALY_HEADER_TIPS = {
    **HEADER_TIPS,
    P_NG: "How much the part differs from the good parts the model learned (scaled so that the threshold works "
          "like P(NG)), from the engine the station uses",
    VERDICT: "NG when the anomaly score ≥ the threshold set on the right",
    WRONG_BY: "How wrong: |label − score|, 1 = confidently wrong, 0 = confidently right",
}


class PredictionTableModel(QAbstractTableModel):
    def __init__(self, thumbnails: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.rows: list[ImagePrediction] = []
        self.threshold = 0.5
        self.anomaly = False  # the scores are an anomaly model's (see set_anomaly)
        self._loader = thumbnails
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._wanted: dict[str, int] = {}
        self._sort = (WRONG_BY, Qt.SortOrder.DescendingOrder)
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._flush_requests)
        thumbnails.thumbnails_ready.connect(self._on_loader_thumbnails_ready)

    # ---- Qt model ---------------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return ANOMALY_SCORE if self.anomaly and section == P_NG else COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (ANOMALY_HEADER_TIPS if self.anomaly else HEADER_TIPS).get(section)
        return None

    def set_anomaly(self, anomaly: bool) -> None:
        """The scores are an anomaly model's (the header says so) or a classifier's P(NG)."""
        if anomaly != self.anomaly:
            self.anomaly = anomaly
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, P_NG, WRONG_BY)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(r, col)
        if role == RowRole:
            return r
        if role == Qt.ItemDataRole.DecorationRole and col == THUMB:
            return self._thumbnail(r)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(r, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (P_NG, WRONG_BY):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.path + (f"\n⚠ {r.error}" if r.error else "") + ("\n(validation image)" if r.in_validation else "")
        return None

    def _text(self, r: ImagePrediction, col: int):
        if col == FILE:
            return r.name
        if col == FOLDER:
            return r.folder + (" · val" if r.in_validation else "")
        if r.p_ng is None:
            return {P_NG: "unreadable", VERDICT: "–", RESULT: "–"}.get(col, "")
        if col == P_NG:
            return f"{r.p_ng:.3f}"
        if col == VERDICT:
            return r.verdict(self.threshold)
        wrong = r.is_wrong(self.threshold)
        if col == RESULT:
            return "—" if wrong is None else ("✗ wrong" if wrong else "✓ right")
        if col == WRONG_BY:
            return "" if r.label is None else f"{abs(r.label - r.p_ng):.3f}"
        return None

    def _colour(self, r: ImagePrediction, col: int):
        if col == FOLDER:
            return QBrush(theme.colour(FOLDER_COLOURS.get(r.folder, "label")))
        if col == VERDICT and r.p_ng is not None:
            return QBrush(theme.colour("ngText" if r.verdict(self.threshold) == "NG" else "goText"))
        if col == RESULT and r.is_wrong(self.threshold):
            return QBrush(theme.colour("ngText"))
        return None

    # ---- content ----------------------------------------------------------------------------------------
    def set_rows(self, rows: list[ImagePrediction]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._pixmaps.clear()
        self._wanted.clear()
        self._order_rows()
        self.endResetModel()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        if self.rows:
            self.dataChanged.emit(self.index(0, VERDICT), self.index(len(self.rows) - 1, RESULT),
                                  [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole])

    def row_of_path(self, path: str) -> int:
        for i, r in enumerate(self.rows):
            if r.path == path:
                return i
        return -1

    def relocate(self, pairs: list[tuple[str, str]], folder_of: Callable[[str], str | None]) -> int:
        """Files moved (old path, new path): rows follow them; a file moved out of GO/NG/inbox leaves the
        table. Returns how many rows changed."""
        by_path = {r.path: i for i, r in enumerate(self.rows)}
        changed, gone = 0, []
        for old, new in pairs:
            i = by_path.get(str(old))
            if i is None:
                continue
            folder = folder_of(str(new))
            if folder is None:
                gone.append(i)
                continue
            r = self.rows[i]
            pix = self._pixmaps.pop(r.path, None)
            r.path, r.folder = str(new), folder
            if pix is not None:
                self._pixmaps[r.path] = pix
            changed += 1
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        for i in sorted(gone, reverse=True):
            self.beginRemoveRows(QModelIndex(), i, i)
            del self.rows[i]
            self.endRemoveRows()
        return changed + len(gone)

    # ---- sorting ----------------------------------------------------------------------------------------
    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        if not self.rows:
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = {id(r): i for i, r in enumerate(self.rows)}
        self._order_rows()
        new_of_old = np.empty(len(self.rows), dtype=np.int64)
        for new, r in enumerate(self.rows):
            new_of_old[old_rows[id(r)]] = new
        before = self.persistentIndexList()
        after = [self.index(int(new_of_old[i.row()]), i.column()) for i in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _order_rows(self) -> None:
        column, order = self._sort
        rows = self.rows
        if not rows:
            return
        names = [r.name.lower() for r in rows]
        if column in (FILE, THUMB):
            idx = sorted(range(len(rows)), key=names.__getitem__,
                         reverse=order == Qt.SortOrder.DescendingOrder)
        elif column == FOLDER:
            idx = sorted(range(len(rows)), key=lambda i: (rows[i].folder, names[i]),
                         reverse=order == Qt.SortOrder.DescendingOrder)
        else:
            if column in (RESULT, WRONG_BY):
                key = np.array([math.nan if r.label is None or r.p_ng is None else abs(r.label - r.p_ng)
                                for r in rows])
            else:
                key = np.array([math.nan if r.p_ng is None else r.p_ng for r in rows])
            by_name = np.argsort(np.array(names), kind="stable")
            signed = key[by_name] if order == Qt.SortOrder.AscendingOrder else -key[by_name]
            idx = by_name[np.argsort(signed, kind="stable")].tolist()  # NaN (no label / unreadable) last
        self.rows = [rows[i] for i in idx]

    # ---- thumbnails -------------------------------------------------------------------------------------
    def _thumbnail(self, r: ImagePrediction):
        pix = self._pixmaps.get(r.path)
        if pix is not None:
            self._pixmaps.move_to_end(r.path)
            return pix
        thumb = self._loader.lookup(r.path, r.mtime_ns)
        if thumb is None:
            if not self._flush.isActive():
                self._flush.start()
            self._wanted[r.path] = r.mtime_ns
            return None
        if thumb.image is None:
            return None
        pix = QPixmap.fromImage(thumb.image).scaled(ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation)
        self._pixmaps[r.path] = pix
        while len(self._pixmaps) > PIXMAP_CACHE:
            self._pixmaps.popitem(last=False)
        return pix

    @Slot()
    def _flush_requests(self) -> None:
        """Ask for the thumbnails painted since the last flush (the rows on screen); older asks drop."""
        wanted, self._wanted = self._wanted, {}
        if wanted:
            self._loader.request("insight-table", list(wanted.items()))

    @Slot(list)
    def _on_loader_thumbnails_ready(self, paths: list) -> None:
        ready = set(paths)
        if not ready or not self.rows:
            return
        for i, r in enumerate(self.rows):
            if r.path in ready:
                index = self.index(i, THUMB)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class PredictionFilterProxy(QSortFilterProxyModel):
    """Filters rows; sorting is forwarded to the source model (numpy), the proxy keeps its order."""

    MODES = ("all", "wrong", "uncertain", "inbox")
    filter_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = "all"
        self.cell: tuple[str, str, bool] | None = None  # (folder GO/NG, verdict GO/NG, validation only)
        self.text = ""
        self.band = UNCERTAIN_BAND

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown filter {mode!r}")
        self._change(lambda: setattr(self, "mode", mode))

    def set_cell(self, cell: tuple[str, str, bool] | None) -> None:
        self._change(lambda: setattr(self, "cell", cell))

    def set_text(self, text: str) -> None:
        self._change(lambda: setattr(self, "text", text.strip().lower()))

    def refilter(self) -> None:
        """The threshold or the rows' folders changed: filters that depend on them are re-applied."""
        self._change(lambda: None)

    def _change(self, apply) -> None:
        self.beginFilterChange()
        apply()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self.filter_changed.emit()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        model: PredictionTableModel = self.sourceModel()
        r = model.rows[source_row]
        t = model.threshold
        if self.text and self.text not in r.name.lower():
            return False
        if self.cell is not None:
            folder, verdict, validation_only = self.cell
            return (r.folder == folder and r.p_ng is not None and r.verdict(t) == verdict
                    and (r.in_validation or not validation_only))
        if self.mode == "wrong":
            return bool(r.is_wrong(t))
        if self.mode == "uncertain":
            return r.p_ng is not None and abs(r.p_ng - t) <= self.band
        if self.mode == "inbox":
            return r.folder == "inbox"
        return True


def folder_of_path(path: str, dirs: dict[str, str]) -> str | None:
    """'GO' / 'NG' / 'inbox' for a file directly in one of those folders (dirs: folder -> directory)."""
    parent = os.path.normpath(os.path.dirname(path))
    for folder, directory in dirs.items():
        if parent == os.path.normpath(directory):
            return folder
    return None
