"""One pane of the dataset page: a coloured header with the live count, filter and sort, and the grid."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDrag, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.ui.dataset.thumbnail_delegate import ThumbnailDelegate
from fanqc_gui.ui.dataset.thumbnail_list_model import SortOrder, ThumbnailModel
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

# Keys the grid handles itself (QListView), for Help > Keyboard shortcuts.
GRID_KEYS = (
    (("Arrow keys", "Home", "End", "PgUp", "PgDown"), "Thumbnails: move the current image"),
    (("Shift+arrow keys", "Shift+click"), "Thumbnails: extend the selection"),
    (("Ctrl+click",), "Thumbnails: add or remove one image from the selection"),
    (("Ctrl+A",), "Thumbnails: select every image of the pane"),
)


def dropped_paths(mime) -> list[str]:
    """Local files and folders carried by a drag (file URLs)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class ThumbnailView(QListView):
    """The thumbnail grid. Drags carry file URLs; drops of file URLs are reported, never applied here."""

    files_dropped = Signal(list)
    focus_entered = Signal()
    drag_hover_changed = Signal(bool)

    def __init__(self, delegate: ThumbnailDelegate, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)  # a static grid: fast layout, no free item dragging
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setItemDelegate(delegate)
        self._cell = delegate.cell_size() + QSize(2, 2)
        self.setGridSize(self._cell)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)  # no width see-saw
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)  # drag events arrive at the viewport of an item view
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.empty_text = "No workspace open"
        self._rerequest = QTimer(self, singleShot=True, interval=0)
        self._rerequest.timeout.connect(self._on_rerequest_timeout)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # spread the columns over the whole width instead of leaving a ragged gap on the right
        avail = self.viewport().width() - 2
        cols = max(1, avail // self._cell.width())
        grid = QSize(max(self._cell.width(), avail // cols), self._cell.height())
        if grid != self.gridSize():
            self.setGridSize(grid)

    def visible_rows(self) -> list[int]:
        """Rows whose cells are at least partly on screen."""
        n = self.model().rowCount() if self.model() is not None else 0
        grid, vp = self.gridSize(), self.viewport().rect()
        if n == 0 or grid.width() <= 0 or grid.height() <= 0:
            return []
        cols = max(1, vp.width() // grid.width())
        top = self.verticalScrollBar().value()
        first = max(0, top // grid.height() - 1) * cols
        last = min(n, ((top + vp.height()) // grid.height() + 2) * cols)
        return [r for r in range(first, last) if self.visualRect(self.model().index(r, 0)).intersects(vp)]

    def visible_thumbnails_loaded(self) -> bool:
        """True when every thumbnail on screen is decoded (or known to be unreadable)."""
        return all(self.model().thumbnail_at(r) is not None for r in self.visible_rows())

    def keyboardSearch(self, search: str) -> None:
        """Letter keys are commands here (G, N, I): no type-ahead jumping."""

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if not self._rerequest.isActive():
            self._rerequest.start()  # once per burst of scroll events

    @Slot()
    def _on_rerequest_timeout(self) -> None:
        """After scrolling: ask exactly for what is on screen now; requests for rows scrolled away drop."""
        model = self.model()
        if isinstance(model, ThumbnailModel):
            model.want_only(self.visible_rows())

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.focus_entered.emit()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            p = QPainter(self.viewport())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)

    def startDrag(self, supported_actions) -> None:
        """Drag the selected files as file URLs; the drop target moves them (no rows removed here)."""
        indexes = self.selectedIndexes()
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData(indexes))
        current = self.currentIndex() if self.currentIndex() in indexes else indexes[0]
        thumb = self.model().thumbnail_at(current.row())
        if thumb is not None and thumb.image is not None:
            pix = QPixmap.fromImage(thumb.image).scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio)
            drag.setPixmap(pix)
            drag.setHotSpot(QPoint(pix.width() // 2, pix.height() // 2))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)

    def dragEnterEvent(self, event) -> None:
        if dropped_paths(event.mimeData()):
            event.setDropAction(self._action(event))
            event.accept()
            self.drag_hover_changed.emit(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if dropped_paths(event.mimeData()):
            event.setDropAction(self._action(event))
            event.accept()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.drag_hover_changed.emit(False)
        event.accept()

    def dropEvent(self, event) -> None:
        self.drag_hover_changed.emit(False)
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        # From another pane: a move. From outside: report a copy, so the source never deletes anything.
        event.setDropAction(self._action(event))
        event.accept()
        self.files_dropped.emit(paths)

    @staticmethod
    def _action(event) -> Qt.DropAction:
        return Qt.DropAction.MoveAction if isinstance(event.source(), ThumbnailView) else Qt.DropAction.CopyAction


class ThumbnailPane(QFrame):
    files_dropped = Signal(list)  # local paths dropped on this pane
    activated = Signal()  # the grid got the keyboard focus
    current_changed = Signal(object)  # path (str) of the current image, "" when none; object: keeps undecodable names

    def __init__(self, key: str, title: str, loader: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = key
        self.setObjectName("thumbnailPane")
        self.setProperty("paneKind", key)
        self.model = ThumbnailModel(key, loader, self)
        self.view = ThumbnailView(ThumbnailDelegate(loader.size), self)
        self.view.setModel(self.model)
        self._title = QLabel(title, objectName="paneTitle")
        self._count = QLabel("0", objectName="paneCount")
        self._filter = QLineEdit(placeholderText="Filter by name", clearButtonEnabled=True)
        self._sort = QComboBox()
        for order in SortOrder:
            self._sort.addItem(order.value, order)
        self._kept: tuple[list[str], str] = ([], "")

        header = QFrame(objectName="paneHeader")
        header.setProperty("paneKind", key)
        hl = QHBoxLayout(header)
        hl.setContentsMargins(10, 6, 10, 6)
        hl.addWidget(self._title)
        hl.addStretch(1)
        hl.addWidget(self._count)
        tools = QHBoxLayout()
        tools.setContentsMargins(6, 6, 6, 0)
        tools.setSpacing(6)
        tools.addWidget(self._filter, 1)
        tools.addWidget(self._sort)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addLayout(tools)
        layout.addWidget(self.view, 1)

        self._filter.textChanged.connect(self.model.set_name_filter)
        self._sort.currentIndexChanged.connect(self._on_sort_index_changed)
        self.model.counts_changed.connect(self._on_model_counts_changed)
        self.model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        self.model.modelReset.connect(self._on_model_reset)
        self.view.files_dropped.connect(self.files_dropped)
        self.view.focus_entered.connect(self.activated)
        self.view.drag_hover_changed.connect(self._on_view_drag_hover_changed)
        self.view.selectionModel().currentChanged.connect(self._on_view_current_changed)

    @property
    def title(self) -> str:
        return self._title.text()

    def set_title(self, title: str) -> None:
        self._title.setText(title)
        self.view.empty_text = f"No images in {title}.\nDrag thumbnails or drop files here."

    def set_name_filter(self, text: str) -> None:
        self._filter.setText(text)

    def set_sort_order(self, order: SortOrder) -> None:
        self._sort.setCurrentIndex(list(SortOrder).index(order))

    def count_text(self) -> str:
        return self._count.text()

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.view.selectionModel().selectedIndexes())

    def selected_paths(self) -> list[str]:
        return [self.model.path_at(r) for r in self.selected_rows()]

    def current_path(self) -> str:
        idx = self.view.currentIndex()
        return self.model.path_at(idx.row()) if idx.isValid() else ""

    def select_row(self, row: int) -> None:
        """Make row (clamped to the grid) the current and only selected image."""
        n = self.model.rowCount()
        if n == 0:
            self.view.selectionModel().clear()
            self.current_changed.emit("")
            return
        idx = self.model.index(max(0, min(row, n - 1)))
        self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(idx)

    def select_paths(self, paths: list[str], current: str = "") -> None:
        rows = sorted(r for p in paths if (r := self.model.row_of(p)) is not None)
        sel = QItemSelection()
        for r in rows:
            sel.select(self.model.index(r), self.model.index(r))
        sm = self.view.selectionModel()
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        cur_row = self.model.row_of(current) if current else (rows[0] if rows else None)
        if cur_row is not None:
            sm.setCurrentIndex(self.model.index(cur_row), QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scrollTo(self.model.index(cur_row))
        elif not rows:
            self.current_changed.emit("")

    def step(self, delta: int) -> None:
        row = self.view.currentIndex().row() if self.view.currentIndex().isValid() else -1
        self.select_row(row + delta if row >= 0 else 0)

    def focus_grid(self) -> None:
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    @Slot(int)
    def _on_sort_index_changed(self, i: int) -> None:
        self.model.set_sort_order(self._sort.itemData(i))

    @Slot(int, int)
    def _on_model_counts_changed(self, shown: int, total: int) -> None:
        self._count.setText(f"{total}" if shown == total else f"{shown} of {total}")

    @Slot()
    def _on_model_about_to_be_reset(self) -> None:
        self._kept = (self.selected_paths(), self.current_path())

    @Slot()
    def _on_model_reset(self) -> None:
        paths, current = self._kept
        if paths or current:
            self.select_paths(paths, current)

    @Slot(bool)
    def _on_view_drag_hover_changed(self, hovering: bool) -> None:
        self.setProperty("dropTarget", hovering)
        self.style().unpolish(self)
        self.style().polish(self)

    @Slot(QModelIndex, QModelIndex)
    def _on_view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_changed.emit(self.model.path_at(current.row()) if current.isValid() else "")
