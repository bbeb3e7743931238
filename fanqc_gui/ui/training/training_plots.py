"""Live loss and accuracy curves, per epoch, for training and validation images.

Each curve item is created once; new epochs only update its data, and redraws are coalesced (at most one
per REDRAW_MS) so a fast run cannot keep the GUI thread busy.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Slot
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fanqc_gui.core.training.trainer import EpochMetrics
from fanqc_gui.ui import theme

REDRAW_MS = 100
MIN_PLOT_HEIGHT = 180  # below this the axes eat the curves: the page scrolls or splits instead
# The theme's colours (theme.LIGHT / DARK) for the training curve, the validation curve and the best epoch.
TRAIN, VAL, BEST = "plotTrain", "plotVal", "goText"


def legend_html(per_fold: bool = False) -> str:
    train, val, best = (theme.colour(n).name() for n in (TRAIN, VAL, BEST))
    if per_fold:
        return (f"<span style='color:{train}'>●━━ training images of the fold</span> (the head learned from) "
                f"&nbsp;&nbsp; <span style='color:{val}'>■ ╍ ╍ held-out images of the fold</span> (scored by a head "
                f"that never saw them: they set the threshold)")
    return (f"<span style='color:{train}'>●━━ training images</span> (learned from) &nbsp;&nbsp; "
            f"<span style='color:{val}'>■ ╍ ╍ validation images</span> (kept aside: the honest measure) "
            f"&nbsp;&nbsp; <span style='color:{best}'>┆ best epoch</span> (lowest validation loss: the one that "
            f"is kept)")


def _make_plot(title: str, y_label: str, best_label_at: float
               ) -> tuple[pg.PlotWidget, pg.PlotDataItem, pg.PlotDataItem, pg.InfiniteLine]:
    widget = pg.PlotWidget()
    widget.setMinimumHeight(MIN_PLOT_HEIGHT)
    widget.setMinimumWidth(260)
    plot = widget.getPlotItem()
    plot.setTitle(title, size="11pt")
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    plot.showGrid(x=False, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    train = plot.plot([], [], name="training images", symbol="o", symbolSize=7, symbolPen=None)
    val = plot.plot([], [], name="validation images", symbol="s", symbolSize=7, symbolPen=None)
    best = pg.InfiniteLine(angle=90, label="best epoch", labelOpts={"position": best_label_at})
    best.setVisible(False)
    plot.addItem(best)
    plot.getAxis("left").setWidth(48)  # a fixed width: new tick labels never re-layout the page
    for axis in ("left", "bottom"):  # axes change rarely: repaint them from a pixmap, not from their text
        plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.getAxis("left").enableAutoSIPrefix(False)  # loss 0.7 stays 0.7, not "700 (x0.001)"
    return widget, train, val, best


def _paint_plot(widget: pg.PlotWidget, title: str, train: pg.PlotDataItem, val: pg.PlotDataItem,
                best: pg.InfiniteLine) -> None:
    """(Re)colour one plot with the theme now shown."""
    background, foreground = theme.colour("plotBackground"), theme.colour("plotForeground")
    train_colour, val_colour, best_colour = (theme.colour(n) for n in (TRAIN, VAL, BEST))
    widget.setBackground(background)
    plot = widget.getPlotItem()
    plot.setTitle(title, color=foreground.name(), size="11pt")
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(theme.colour("hint"))
        plot.getAxis(axis).setTextPen(foreground)  # after setPen, which colours the axis title too
        plot.getAxis(axis).update()  # the cached drawing holds the old colours
    train.setPen(pg.mkPen(train_colour, width=2))
    train.setSymbolBrush(train_colour)
    val.setPen(pg.mkPen(val_colour, width=2, style=Qt.PenStyle.DashLine))
    val.setSymbolBrush(val_colour)
    best.setPen(pg.mkPen(best_colour, width=1, style=Qt.PenStyle.DotLine))
    best.label.setColor(best_colour)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= value (0 for 0)."""
    if value <= 0:
        return 0.0
    base = 10.0 ** math.floor(math.log10(value))
    return next(f * base for f in (1, 2, 2.5, 5, 10) if f * base >= value * (1 - 1e-9))


LOSS_TITLE, ACCURACY_TITLE = "Loss (lower is better)", "Accuracy (higher is better)"


class TrainingPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_widget, self.loss_train, self.loss_val, self._loss_best = _make_plot(
            LOSS_TITLE, "binary cross-entropy", 0.92)
        self.acc_widget, self.acc_train, self.acc_val, self._acc_best = _make_plot(
            ACCURACY_TITLE, "% correct", 0.1)
        self.acc_widget.getPlotItem().setYRange(0, 104, padding=0)
        self.loss_widget.getPlotItem().enableAutoRange(y=False)  # 0..top, top only grows: axes seldom redraw
        self.acc_widget.getPlotItem().getViewBox().setMouseEnabled(y=False)
        self.legend = QLabel(wordWrap=True)
        self._scheme = ""
        self._per_fold = False  # the pretrained preset: one point per fold of the threshold check, no best epoch
        self._follow_theme()
        # Shown instead of the curves for a run that has none (an anomaly model is fitted in one pass).
        self.no_curves = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter, objectName="hint")
        self.no_curves.hide()
        plots = QHBoxLayout()
        plots.addWidget(self.loss_widget)
        plots.addWidget(self.acc_widget)
        plots.addWidget(self.no_curves)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addLayout(plots, 1)
        self._epochs: list[EpochMetrics] = []
        self._planned = 1
        self._best_epoch = 0
        self._x_last = 0
        self._loss_top = 0.0
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self._on_redraw_timeout)
        self.clear(10)

    @property
    def epochs_shown(self) -> int:
        """Epochs currently drawn (after the coalesced redraw)."""
        return len(self.loss_train.xData) if self.loss_train.xData is not None else 0

    def clear(self, planned_epochs: int | None) -> None:
        """No curves; the x axis spans planned_epochs (None or 0: not known yet, see set_planned)."""
        self._epochs = []
        self._best_epoch = 0
        self._loss_top = 0.0
        self._planned = max(1, planned_epochs or 1)
        self._redraw.stop()
        self._draw()

    def set_no_curves(self, text: str | None) -> None:
        """text: why this kind of run has no learning curves (shown in their place); None: the curves again."""
        self.no_curves.setText(text or "")
        self.no_curves.setVisible(bool(text))
        for widget in (self.loss_widget, self.acc_widget, self.legend):
            widget.setVisible(not text)

    def set_per_fold(self, per_fold: bool) -> None:
        """True: the points are the folds of the pretrained preset's threshold check (no epochs, no best one)."""
        if per_fold != self._per_fold:
            self._per_fold = per_fold
            self.legend.setText(legend_html(per_fold))
            for widget in (self.loss_widget, self.acc_widget):
                widget.getPlotItem().setLabel("bottom", "fold" if per_fold else "epoch")
                widget.getPlotItem().getAxis("bottom").setTextPen(theme.colour("plotForeground"))
            self._draw()

    def set_planned(self, planned_epochs: int) -> None:
        """The run's epochs, once known (the engine plans them when the epochs follow the data)."""
        if planned_epochs != self._planned:
            self._planned = max(1, planned_epochs)
            if not self._redraw.isActive():
                self._redraw.start()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the theme's colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        self.legend.setText(legend_html(self._per_fold))
        _paint_plot(self.loss_widget, LOSS_TITLE, self.loss_train, self.loss_val, self._loss_best)
        _paint_plot(self.acc_widget, ACCURACY_TITLE, self.acc_train, self.acc_val, self._acc_best)

    def add_epoch(self, metrics: EpochMetrics) -> None:
        self._epochs.append(metrics)
        finite = [m for m in self._epochs if math.isfinite(m.val_loss)]
        if finite:
            self._best_epoch = min(finite, key=lambda m: m.val_loss).epoch
        if not self._redraw.isActive():
            self._redraw.start()

    def flush(self) -> None:
        """Draw pending epochs now (at the end of a run, and for screenshots)."""
        self._redraw.stop()
        self._draw()

    @Slot()
    def _on_redraw_timeout(self) -> None:
        self._draw()

    def _draw(self) -> None:
        x = [m.epoch for m in self._epochs]
        self.loss_train.setData(x, [m.loss for m in self._epochs])
        self.loss_val.setData(x, [m.val_loss for m in self._epochs])
        self.acc_train.setData(x, [100.0 * m.accuracy for m in self._epochs])
        self.acc_val.setData(x, [100.0 * m.val_accuracy for m in self._epochs])
        losses = [v for m in self._epochs for v in (m.loss, m.val_loss) if math.isfinite(v)]
        top = nice_ceiling(1.08 * max(losses, default=0.0)) or 1.0
        if top > self._loss_top or not self._epochs:
            self._loss_top = top
            self.loss_widget.getPlotItem().setYRange(0, top, padding=0)
        last = max(self._planned, len(x))
        show_best = self._best_epoch > 0 and len(x) > 1 and not self._per_fold
        for widget, line in ((self.loss_widget, self._loss_best), (self.acc_widget, self._acc_best)):
            if last != self._x_last:  # axes are redrawn only when their range changes
                plot = widget.getPlotItem()
                plot.setXRange(0.5, last + 0.5, padding=0)
                plot.getAxis("bottom").setTickSpacing(major=max(1, math.ceil(last / 10)), minor=1)
            if line.isVisible() != show_best:
                line.setVisible(show_best)
            if show_best and line.value() != self._best_epoch:
                line.setValue(self._best_epoch)
        self._x_last = last
