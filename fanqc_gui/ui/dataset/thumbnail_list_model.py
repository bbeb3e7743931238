"""The list model behind one pane: the folder's image files, filtered and sorted, with cached thumbnails.

The rows live in C++ (a QStringListModel of paths, in display order), so the view's layout of 20,000 items
never calls into Python: QListView asks rowCount()/index() for every item on each relayout, and Python
overrides of those would cost tens of milliseconds per keyboard move. Python keeps the facts per path
(FileEntry) and does the sorting and filtering itself (a QSortFilterProxyModel would call back into Python
for every comparison). Changes arrive as listings from the folder lister or as the move engine's results,
and are applied as row inserts/removals so the selection and the scroll position survive.

File names are bytes on Linux: one that is not UTF-8 reaches Python with escaped bytes (lone surrogates),
which Qt would silently drop. Such a path is kept in the list as a stand-in Qt can hold (`_qt_row`), and
every path leaving the model (path_at, paths, PATH_ROLE) is the real one.
"""
from __future__ import annotations

import fnmatch
import os
import time
from enum import Enum

from PySide6.QtCore import QMimeData, QModelIndex, QObject, QStringListModel, Qt, QTimer, QUrl, Signal, Slot

from fanqc_gui.core.dataset.folder_listing import FileEntry, FolderListing
from fanqc_gui.core.image_files import readable_name
from fanqc_gui.workers.thumbnail_loader import Thumbnail, ThumbnailLoader

PATH_ROLE = Qt.ItemDataRole.UserRole + 1  # the file's path (str; with its escaped bytes: read it in Python)
_EDIT = Qt.ItemDataRole.EditRole  # where QStringListModel keeps the path
_RESET_ABOVE = 800  # more changes than this at once: reset the model instead of row by row


class SortOrder(Enum):
    NAME = "Name A→Z"
    NAME_DESC = "Name Z→A"
    NEWEST = "Newest first"
    OLDEST = "Oldest first"


def _sort_key(order: SortOrder):
    if order in (SortOrder.NAME, SortOrder.NAME_DESC):
        return lambda e: e.name_key
    return lambda e: (e.mtime_ns, e.name_key)


class ThumbnailModel(QStringListModel):
    counts_changed = Signal(int, int)  # shown (after the filter), total in the folder

    def __init__(self, key: str, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.key = key
        self._loader = loader
        self._all: dict[str, FileEntry] = {}
        self._real: dict[str, str] = {}  # stand-in row text -> path, for the paths Qt cannot hold
        self._signatures: set[tuple[str, int, int]] = set()  # of self._all, for cheap listing diffs
        self._order = SortOrder.NAME
        self._key = _sort_key(self._order)
        self._filter = ""
        self._wanted: dict[str, int] = {}
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._on_flush_timeout)
        loader.thumbnails_ready.connect(self._on_loader_thumbnails_ready)

    # --- Qt model interface (rowCount and index stay in C++) ---
    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(super().data(index, _EDIT).split("\0", 1)[0])
        if role == PATH_ROLE:
            return self.path_at(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            e = self._all.get(self.path_at(index.row()))
            return self._tooltip(e) if e else ""
        return None

    def flags(self, index: QModelIndex):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self.path_at(i.row())) for i in indexes if i.isValid()])
        return mime

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    # --- queries ---
    @property
    def total(self) -> int:
        return len(self._all)

    @property
    def sort_order(self) -> SortOrder:
        return self._order

    def path_at(self, row: int) -> str:
        text = super().data(self.index(row), _EDIT)
        return self._real.get(text, text) if self._real else text

    def entry(self, row: int) -> FileEntry:
        return self._all[self.path_at(row)]

    def paths(self) -> list[str]:
        rows = self.stringList()
        return [self._real.get(t, t) for t in rows] if self._real else rows

    def row_of(self, path: str) -> int | None:
        """The row showing path (a binary search on the sort key), or None if absent or filtered out."""
        e = self._all.get(path)
        if e is None:
            return None
        row = self._search(self._key(e), before_equal=True)
        return row if row < self.rowCount() and self.path_at(row) == path else None

    def thumbnail_at(self, row: int) -> Thumbnail | None:
        """The row's thumbnail if decoded (or known unreadable); otherwise None, and it is requested."""
        e = self._all.get(self.path_at(row)) if 0 <= row < self.rowCount() else None
        return self.thumbnail(e) if e else None

    def problem_at(self, row: int) -> str | None:
        """Why the row's file cannot be shown, once its thumbnail was attempted; None if fine or not yet known."""
        e = self.entry(row)
        thumb = self._loader.lookup(e.path, e.mtime_ns)
        return thumb.reason if thumb else None

    def thumbnail(self, e: FileEntry) -> Thumbnail | None:
        thumb = self._loader.lookup(e.path, e.mtime_ns)
        if thumb is None:
            self._wanted[e.path] = e.mtime_ns
            if not self._flush.isActive():
                self._flush.start()
        return thumb

    def want_only(self, rows: list[int]) -> None:
        """The view scrolled: these rows are on screen; thumbnails asked for other rows are not needed."""
        self._wanted.clear()
        for row in rows:
            self.thumbnail_at(row)
        self._flush.start()  # replaces the loader's queue for this pane, even with an empty list

    # --- changes ---
    def set_listing(self, listing: FolderListing) -> None:
        """A fresh listing of the folder: apply the difference (usually none: our own moves are shown)."""
        if not self._all:
            self._reset_to(listing)
            return
        gone = self._signatures - listing.signatures
        new = listing.signatures - self._signatures
        if not gone and not new:
            return
        if len(gone) + len(new) > _RESET_ABOVE:
            self._reset_to(listing)
            return
        changed = {sig[0] for sig in new}
        self.remove_paths([sig[0] for sig in gone if sig[0] not in changed])
        self.add_entries([e for e in listing.entries if e.path in changed])  # replaces changed files

    def add_entries(self, entries: list[FileEntry]) -> None:
        for e in entries:
            if e.path in self._all:
                self.remove_paths([e.path])
            self._all[e.path] = e
            self._signatures.add(e.signature)
            if self._matches(e):
                pos = self._search(self._key(e), before_equal=False)
                self.insertRows(pos, 1)
                super().setData(self.index(pos), self._qt_row(e.path), _EDIT)
        if entries:
            self._emit_counts()

    def remove_paths(self, paths) -> None:
        rows = sorted((r for p in paths if (r := self.row_of(p)) is not None), reverse=True)
        for p in paths:
            e = self._all.pop(p, None)
            if e is not None:
                self._signatures.discard(e.signature)
        i = 0
        while i < len(rows):  # contiguous runs, from the bottom up
            last = first = rows[i]
            while i + 1 < len(rows) and rows[i + 1] == first - 1:
                i += 1
                first = rows[i]
            self.removeRows(first, last - first + 1)
            i += 1
        if paths:
            self._emit_counts()

    def set_sort_order(self, order: SortOrder) -> None:
        if order != self._order:
            self._order, self._key = order, _sort_key(order)
            self._reset()

    def set_name_filter(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._filter:
            self._filter = text
            self._reset()

    def clear(self) -> None:
        self._reset({})

    # --- internals ---
    @property
    def _descending(self) -> bool:
        return self._order in (SortOrder.NAME_DESC, SortOrder.NEWEST)

    def _reset_to(self, listing: FolderListing) -> None:
        self._reset({e.path: e for e in listing.entries}, listing.entries, listing.signatures)

    def _reset(self, entries: dict[str, FileEntry] | None = None, presorted: list[FileEntry] | None = None,
               signatures: frozenset | None = None) -> None:
        """Rebuild the rows: from new entries, or from the current ones (new sort order or filter)."""
        if entries is not None:
            self._all = entries
            self._signatures = set(signatures if signatures is not None else (e.signature for e in entries.values()))
        if presorted is not None and self._order == SortOrder.NAME and not self._filter:
            rows = [e.path for e in presorted]  # the lister already sorts by name
        else:
            shown = sorted((e for e in self._all.values() if self._matches(e)), key=self._key,
                           reverse=self._descending)
            rows = [e.path for e in shown]
        self._wanted.clear()
        self._real = {}
        self.setStringList([self._qt_row(p) for p in rows])  # one reset, in C++
        self._emit_counts()

    def _qt_row(self, path: str) -> str:
        """path as the list's row text: itself, or for a name that is not UTF-8 a stand-in Qt can hold (the
        readable name, then NUL, which no path contains, and the raw bytes in hex, so stand-ins never clash)."""
        if path.isascii():
            return path
        shown = readable_name(path)
        if shown is path:  # valid UTF-8: Qt holds it as it is
            return path
        text = f"{shown}\0{os.fsencode(path).hex()}"
        self._real[text] = path
        return text

    def _matches(self, e: FileEntry) -> bool:
        f = self._filter
        if not f:
            return True
        name = e.name.casefold()
        return fnmatch.fnmatchcase(name, f) if any(c in f for c in "*?[") else f in name

    def _search(self, k, before_equal: bool) -> int:
        """Binary search in display order: the first row whose key is >= k (before_equal) or > k."""
        lo, hi = 0, self.rowCount()
        key, entries, descending = self._key, self._all, self._descending
        while lo < hi:
            mid = (lo + hi) // 2
            km = key(entries[self.path_at(mid)])
            if descending:
                go_right = km > k or (km == k and not before_equal)
            else:
                go_right = km < k or (km == k and not before_equal)
            if go_right:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _emit_counts(self) -> None:
        self.counts_changed.emit(self.rowCount(), len(self._all))

    def _tooltip(self, e: FileEntry) -> str:
        thumb = self._loader.lookup(e.path, e.mtime_ns)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime_ns / 1e9))
        text = f"{e.name}\n{human_size(e.size)} · {when}"
        if thumb is not None and thumb.reason:
            text += f"\n⚠ Cannot show this image: {thumb.reason}"
        elif thumb is not None and thumb.width:
            text += f"\n{thumb.width} × {thumb.height} px"
        return text

    @Slot()
    def _on_flush_timeout(self) -> None:
        self._loader.request(self.key, list(self._wanted.items()))

    @Slot(object)
    def _on_loader_thumbnails_ready(self, paths: list) -> None:
        for p in paths:
            if p in self._all:
                row = self.row_of(p)
                if row is not None:
                    idx = self.index(row)
                    self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])
            self._wanted.pop(p, None)


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
