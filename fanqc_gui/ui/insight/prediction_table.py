"""Per-image predictions: thumbnail, file, folder class, P(NG), verdict, right/wrong and how wrong; sortable,
with filters for wrong, uncertain (near the threshold) and inbox images, a name filter, and a filter set
from outside (a confusion-matrix cell)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fanqc_gui.core.insight.explanations import UNCERTAIN_BAND
from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
from fanqc_gui.ui import theme
from fanqc_gui.ui.insight.prediction_table_model import (
    FILE,
    ICON,
    P_NG,
    THUMB,
    WRONG_BY,
    PredictionFilterProxy,
    PredictionTableModel,
    RowRole,
)
from fanqc_gui.workers.thumbnail_loader import ThumbnailLoader

FILTER_BUTTONS = (("all", "All", "Every image of the workspace"),
                  ("wrong", "Wrong", "Verdict differs from the folder the image is filed in"),
                  ("uncertain", "Uncertain", f"P(NG) within ±{UNCERTAIN_BAND:g} of the threshold"),
                  ("inbox", "Inbox", "Unsorted images, with the model's suggestion"))
SORTS = (("Most wrong first", WRONG_BY, Qt.SortOrder.DescendingOrder),
         ("P(NG) high → low", P_NG, Qt.SortOrder.DescendingOrder),
         ("P(NG) low → high", P_NG, Qt.SortOrder.AscendingOrder),
         ("File name", FILE, Qt.SortOrder.AscendingOrder))


class PredictionTable(QWidget):
    current_changed = Signal(object)  # ImagePrediction or None
    selection_changed = Signal()

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = PredictionTableModel(thumbnails, self)
        self.proxy = PredictionFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QSize(ICON, ICON))
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(ICON + 4)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)  # keeps the words a user filters by
        self.view.setSortingEnabled(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Stretch)
        self.view.setColumnWidth(THUMB, ICON + 8)
        fm = self.view.fontMetrics()
        for col, sample in ((2, "NG · val"), (P_NG, "0.000"), (4, "NG"), (5, "✗ wrong"), (WRONG_BY, "0.000")):
            title = self.model.headerData(col, Qt.Orientation.Horizontal)
            arrow = 24 if col == WRONG_BY else 14  # sorted by it at first: room for the sort arrow
            self.view.setColumnWidth(col, max(fm.horizontalAdvance(title) + arrow, fm.horizontalAdvance(sample) + 12))
        self.view.sortByColumn(WRONG_BY, Qt.SortOrder.DescendingOrder)

        self.filter_group = QButtonGroup(self)
        self.filter_buttons: dict[str, QToolButton] = {}
        for key, text, tip in FILTER_BUTTONS:
            button = QToolButton(text=text, checkable=True, toolTip=tip, objectName="keyButton")
            self.filter_group.addButton(button)
            self.filter_buttons[key] = button
        self.filter_buttons["all"].setChecked(True)
        self.sort_box = QComboBox(toolTip="Sort order of the table")
        self.sort_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never clipped
        for text, _, _ in SORTS:
            self.sort_box.addItem(text)
        self.search = QLineEdit(placeholderText="Name filter", clearButtonEnabled=True,
                                toolTip="Show only images whose file name contains this text")
        self.search.setMinimumWidth(60)
        self.cell_label = QLabel(objectName="cellFilter", wordWrap=True)
        self._scheme = ""
        self._colour_cell_label()
        self.cell_clear = QPushButton("Show all")
        self.count_label = QLabel(objectName="hint")
        self._build_layout()
        self._connect()
        self._show_cell(None)

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(4)
        for button in self.filter_buttons.values():
            bar.addWidget(button)
        bar.addSpacing(6)
        bar.addWidget(self.sort_box)
        bar.addWidget(self.search, 1)
        cell = QHBoxLayout()
        cell.addWidget(self.cell_label, 1)
        cell.addWidget(self.cell_clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addLayout(cell)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)

    def _connect(self) -> None:
        for key, button in self.filter_buttons.items():
            button.clicked.connect(lambda _=False, key=key: self.set_filter(key))
        self.sort_box.activated.connect(self._on_sort_box_activated)
        self.search.textChanged.connect(self.proxy.set_text)
        self.cell_clear.clicked.connect(lambda: self.set_cell_filter(None))
        self.proxy.filter_changed.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.view.selectionModel().currentRowChanged.connect(self._on_view_current_row_changed)
        self.view.selectionModel().selectionChanged.connect(self.selection_changed)
        self.view.horizontalHeader().sortIndicatorChanged.connect(self._on_header_sort_indicator_changed)

    # ---- public -----------------------------------------------------------------------------------------
    def set_rows(self, rows: list[ImagePrediction], threshold: float) -> None:
        self.model.threshold = float(threshold)
        self.model.set_rows(rows)
        self._update_count()

    def reset(self) -> None:
        """As freshly built: no rows, no filter, no name filter, most wrong first (another workspace)."""
        self.set_filter("all")
        self.search.clear()
        self.sort_by(0)
        self.set_rows([], self.model.threshold)

    def set_threshold(self, threshold: float) -> None:
        self.model.set_threshold(threshold)
        if self.proxy.mode != "all" or self.proxy.cell is not None:
            self.proxy.refilter()

    def set_filter(self, mode: str) -> None:
        """"all", "wrong", "uncertain" or "inbox" (clears a confusion-matrix cell filter)."""
        self.filter_buttons[mode].setChecked(True)
        self._show_cell(None)
        self.proxy.set_cell(None)
        self.proxy.set_mode(mode)

    def set_cell_filter(self, cell: tuple[str, str, bool] | None) -> None:
        """Only images filed in `folder` that get `verdict` (and, if validation_only, validation images)."""
        self._show_cell(cell)
        self.proxy.set_cell(cell)
        if cell is None:
            self.proxy.set_mode(self.proxy.mode)

    def sort_by(self, index: int) -> None:
        """One of SORTS, by position."""
        self.sort_box.setCurrentIndex(index)
        _, column, order = SORTS[index]
        self.view.sortByColumn(column, order)

    def visible_rows(self) -> list[ImagePrediction]:
        return [self.proxy.index(i, 0).data(RowRole) for i in range(self.proxy.rowCount())]

    def selected_rows(self) -> list[ImagePrediction]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedRows())
        return [self.proxy.index(i, 0).data(RowRole) for i in rows]

    def current_row(self) -> ImagePrediction | None:
        index = self.view.currentIndex()
        return index.data(RowRole) if index.isValid() else None

    def select_path(self, path: str) -> bool:
        source = self.model.row_of_path(path)
        if source < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(source, 0))
        if not index.isValid():
            return False
        self.select_proxy_row(index.row())
        return True

    def select_proxy_row(self, row: int) -> None:
        index = self.proxy.index(row, FILE)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)

    # ---- internals --------------------------------------------------------------------------------------
    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._colour_cell_label)  # the colour table switches after the palette

    def _colour_cell_label(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        fill, text, border = (theme.colour(n).name() for n in ("warnFill", "warnText", "warnBorder"))
        self.cell_label.setStyleSheet(f"QLabel {{ background: {fill}; color: {text}; border: 1px solid {border}; "
                                      f"border-radius: 4px; padding: 2px 6px; }}")
        self.view.viewport().update()  # the model's text colours are read from the theme as they are drawn

    def _show_cell(self, cell) -> None:
        if cell is None:
            self.cell_label.hide()
            self.cell_clear.hide()
            return
        folder, verdict, validation_only = cell
        scope = "validation images" if validation_only else "all labelled images"
        self.cell_label.setText(f"Matrix cell: filed <b>{folder}</b>, model says <b>{verdict}</b> ({scope})")
        self.cell_label.show()
        self.cell_clear.show()
        self.filter_group.setExclusive(False)  # no filter button is "on" while a cell filter is
        for button in self.filter_buttons.values():
            button.setChecked(False)
        self.filter_group.setExclusive(True)

    @Slot()
    def _update_count(self, *args) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"Showing {shown:,} of {total:,} images" if total else "No predictions yet")

    @Slot(int)
    def _on_sort_box_activated(self, index: int) -> None:
        self.sort_by(index)

    @Slot(int, Qt.SortOrder)
    def _on_header_sort_indicator_changed(self, column: int, order) -> None:
        for i, (_, col, o) in enumerate(SORTS):
            if col == column and o == order:
                self.sort_box.setCurrentIndex(i)
                return

    @Slot(object, object)
    def _on_view_current_row_changed(self, current, _previous) -> None:
        self.current_changed.emit(current.data(RowRole) if current.isValid() else None)
