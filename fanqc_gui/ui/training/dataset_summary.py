"""What a training run will use: images per class, imbalance, files that will be skipped (with reasons),
duplicates, and the class mapping in words. Also decides whether training is possible in the chosen mode
(a GO/NG classifier needs both classes, an anomaly model good parts only), and says why not; where the
classifier cannot train but an anomaly model can, it suggests that mode with a button."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from fanqc_gui.core.dataset.scan import MIN_IMAGES_PER_CLASS, DatasetError, ScanReport
from fanqc_gui.core.dataset.workspace import GO, NG, Workspace
from fanqc_gui.core.models.anomaly.options import MIN_GO_IMAGES
from fanqc_gui.ui import theme

IMBALANCE_RATIO = 1.5  # warn when one class has this many times the images of the other
NO_WORKSPACE = "No workspace is open: open one from the File menu."


def _style(name: str) -> str:
    """A CSS colour rule with the theme's colour `name`, read now (re-read when the theme changes)."""
    return f"color: {theme.colour(name).name()};"


class DatasetSummary(QWidget):
    rescan_requested = Signal()
    anomaly_mode_requested = Signal()  # the suggestion's button: train "Find anomalies (GO only)"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts_label = QLabel(wordWrap=True)
        self.mapping_label = QLabel(wordWrap=True)
        self.mapping_label.setObjectName("hint")
        self.warning_label = QLabel(wordWrap=True)
        self.problems_label = QLabel(wordWrap=True)
        self.problems_list = QListWidget()
        self.problems_list.setMaximumHeight(90)
        self.suggestion_label = QLabel(wordWrap=True)
        self.anomaly_button = QPushButton("Find anomalies instead",
                                          toolTip="Switch the options to 'Find anomalies (GO only)'.")
        self.anomaly_button.clicked.connect(self.anomaly_mode_requested)
        suggestion = QHBoxLayout()
        suggestion.addWidget(self.suggestion_label, 1)
        suggestion.addWidget(self.anomaly_button)
        self.rescan_button = QPushButton("Rescan", toolTip="Count the images again (after sorting or adding files).")
        self.rescan_button.clicked.connect(self.rescan_requested)
        top = QHBoxLayout()
        top.addWidget(self.counts_label, 1)
        top.addWidget(self.rescan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.mapping_label)
        layout.addWidget(self.warning_label)
        layout.addLayout(suggestion)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems_list)
        self.report: ScanReport | None = None
        self.anomaly_mode = False  # what the blocker and the counts are for
        self._hint: str | None = None  # core.training.anomaly_advice's suggestion for the shown report
        self._folds: int | None = None  # the pretrained preset's k-fold, None for a validation share
        self._val_split = 0.2
        self._blocker: str | None = NO_WORKSPACE
        self._shown = self.show_no_workspace  # what is on screen, shown again in another theme's colours
        self._scheme = ""
        self._follow_theme()
        self.show_no_workspace()

    def start_blocker(self) -> str | None:
        """Why training cannot start with these images, or None."""
        return self._blocker

    def show_no_workspace(self) -> None:
        self.report = None
        self._hint = None
        self._blocker = NO_WORKSPACE
        self._shown = self.show_no_workspace
        self.counts_label.setText("<b>No workspace open.</b>")
        self.mapping_label.clear()
        self._clear_details()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the theme's colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        self.warning_label.setStyleSheet(_style("warnText"))
        self._shown()

    def show_scanning(self, workspace: Workspace) -> None:
        """Counting: the last counts stay until the new ones arrive (none after show_no_workspace())."""
        self._blocker = "Counting the images…"
        if self.report is None:
            self.counts_label.setText(f"Counting the images in {workspace.root}…")
        self.mapping_label.setText(workspace.mapping.describe())

    def show_error(self, text: str) -> None:
        self.report = None
        self._hint = None
        self._blocker = text
        self._shown = lambda: self.show_error(text)
        self.counts_label.setText(f"<span style='{_style('ngText')}'>{text}</span>")
        self._clear_details()

    @property
    def anomaly_hint(self) -> str | None:
        """The anomaly mode's suggestion for the shown report (None: none, or the classifier can train)."""
        return self._hint

    def set_anomaly_mode(self, anomaly: bool) -> None:
        """The run will train an anomaly model (True) or a GO/NG classifier: the counts and blocker follow."""
        if anomaly != self.anomaly_mode:
            self.anomaly_mode = anomaly
            if self.report is not None:
                self.show_report(self.report, self._val_split, self._hint, self._folds)

    def show_report(self, report: ScanReport, val_split: float, anomaly_hint: str | None = None,
                    folds: int | None = None) -> None:
        """anomaly_hint: core.training.anomaly_advice.anomaly_mode_hint's sentence for this workspace, shown
        with a button where the classifier cannot train. folds: the pretrained preset's k-fold (every image is
        learned from and scored out of fold), instead of a validation share kept aside."""
        self.report = report
        self._val_split, self._hint, self._folds = val_split, anomaly_hint, folds
        self._shown = lambda: self.show_report(report, val_split, anomaly_hint, folds)
        mapping = report.mapping
        go, ng = report.count(GO), report.count(NG)
        n_val = sum(_val_count(n, val_split) for n in (go, ng))
        use = (f"The {go} GO images describe good parts (some are held out to set the threshold); NG images, if "
               f"any, are never learned from: they only move the threshold and show what is caught."
               if self.anomaly_mode else
               f"All {go + ng} are learned from; each is also scored by a head that never saw it ({folds}-fold) "
               f"to set the threshold and check the model." if folds else
               f"About {go + ng - n_val} will be learned from and {n_val} kept aside to check the model.")
        self.counts_label.setText(
            f"<b>GO: {go}</b> images (folder '{mapping.go_folder}') &nbsp; <b>NG: {ng}</b> images "
            f"(folder '{mapping.ng_folder}')<br>{use} {report.inbox_count} unsorted inbox images are not used.")
        self.mapping_label.setText(f"Class mapping: {mapping.describe()}.")
        warnings = []
        small, large = sorted(((go, "GO"), (ng, "NG")))
        if not self.anomaly_mode and small[0] and large[0] / small[0] >= IMBALANCE_RATIO:
            remedy = ("the head weights the classes alike; more of them still help" if folds else
                      "or tick 'Class weighting'")
            warnings.append(f"⚠ Imbalance: {large[1]} has {large[0] / small[0]:.1f}× as many images as "
                            f"{small[1]}. Add {small[1]} images ({remedy}).")
        if report.duplicates:
            extra = sum(len(group) - 1 for group in report.duplicates)
            warnings.append(f"{len(report.duplicates)} group(s) of identical files ({extra} extra copies): each "
                            f"picture is used once.")
        self.warning_label.setText("<br>".join(warnings))
        self.warning_label.setVisible(bool(warnings))
        self.warning_label.setToolTip("\n".join(" = ".join(p.name for p in group) for group in report.duplicates[:50]))
        self._show_problems(report)
        self._show_suggestion(None)
        if self.anomaly_mode:
            self._blocker = None if go >= MIN_GO_IMAGES else (
                f"Cannot train: only {go} usable GO image(s); finding anomalies needs at least {MIN_GO_IMAGES} "
                f"photos of good parts in '{mapping.go_folder}'.")
            if self._blocker:
                self.counts_label.setText(f"{self.counts_label.text()}<br><span style='{_style('ngText')}'>"
                                          f"{self._blocker}</span>")
            return
        try:
            report.require_trainable()
            self._blocker = None
        except DatasetError as exc:
            self._blocker = f"Cannot train: {exc}."
            self.counts_label.setText(f"{self.counts_label.text()}<br><span style='{_style('ngText')}'>"
                                      f"{self._blocker} Sort at least {MIN_IMAGES_PER_CLASS} images into each "
                                      "class.</span>")
            self._show_suggestion(anomaly_hint)

    def _show_suggestion(self, hint: str | None) -> None:
        """The anomaly mode suggested where the classifier cannot train (the CLI's command in the tooltip)."""
        visible = bool(hint)
        self.suggestion_label.setVisible(visible)
        self.anomaly_button.setVisible(visible)
        if visible:
            words = hint.split(" (`")[0]
            self.suggestion_label.setText(f"<span style='{_style('goText')}'><b>Suggestion:</b> "
                                          f"{words[:1].upper()}{words[1:]}.</span>")
            self.suggestion_label.setToolTip(hint)

    def _show_problems(self, report: ScanReport) -> None:
        self.problems_list.clear()
        n = len(report.problems)
        self.problems_label.setVisible(n > 0)
        self.problems_list.setVisible(n > 0)
        if not n:
            return
        self.problems_label.setText(f"<span style='{_style('warnText')}'>{n} file(s) cannot be used and will be "
                                    "skipped:</span>")
        for problem in report.problems:
            try:
                shown = problem.path.relative_to(report.root)
            except ValueError:
                shown = problem.path
            self.problems_list.addItem(f"{shown} — {problem.reason}")

    def _clear_details(self) -> None:
        self._show_suggestion(None)
        self.warning_label.hide()
        self.problems_label.hide()
        self.problems_list.hide()
        self.problems_list.clear()


def _val_count(n: int, val_split: float) -> int:
    """Images of one class held out for validation (the same rule as core.dataset.scan.split_stratified)."""
    k = int(round(n * val_split))
    if val_split > 0 and n >= 2:
        k = min(max(k, 1), n - 1)
    return k
