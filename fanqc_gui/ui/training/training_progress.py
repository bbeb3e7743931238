"""The run as it happens: the stage, a per-batch progress bar with images/s and time left, an error banner,
and the epoch log (`log`, placed by the page where it has room)."""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.training.trainer import BatchProgress, EpochMetrics, TrainOptions, TrainResult
from fanqc_gui.ui import theme
from fanqc_gui.workers.training_worker import StoppedRun

LOGGED_STAGES = ("Fine-tuning",)  # stage lines that stay in the log: the tuning's folds and whether it was kept
STAGE_HINTS = {"Loading TensorFlow": " (the first run after start-up takes a few seconds)"}
IDLE_TEXT = "Not training. Check the images and options, then press Start training."


def duration_text(seconds: float) -> str:
    seconds = max(0, int(math.ceil(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fold_line(m: EpochMetrics, folds: int) -> str:
    """A fold of the threshold's k-fold; with fine-tuning, folds k+1..2k are the tuned network's."""
    what, number = ("head", m.epoch) if m.epoch <= folds else ("tuned network", m.epoch - folds)
    prefix = "Fold" if m.epoch <= folds else "Fine-tuned fold"
    return (f"{prefix} {number}/{folds} · {what} on the other folds: loss {m.loss:.3f}, "
            f"accuracy {100 * m.accuracy:.1f} %"
            f" · this fold, held out: loss {m.val_loss:.3f}, accuracy {100 * m.val_accuracy:.1f} % · "
            f"{m.seconds:.1f} s")


def epoch_line(m: EpochMetrics, epochs: int, best: bool) -> str:
    of = f"/{epochs}" if epochs else ""  # 0: not known yet
    return (f"Epoch {m.epoch}{of} · training: loss {m.loss:.3f}, accuracy {100 * m.accuracy:.1f} % · "
            f"validation: loss {m.val_loss:.3f}, accuracy {100 * m.val_accuracy:.1f} % · {m.seconds:.1f} s"
            f"{'  ← best so far' if best else ''}")


class TrainingProgress(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stage_label = QLabel(wordWrap=True)
        self.stage_label.setStyleSheet("font-weight: bold;")
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.error_banner = QLabel(wordWrap=True)
        self._scheme = ""
        self._follow_theme()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("One line per epoch appears here during training.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.error_banner)
        self.epochs = 0
        self.anomaly = False  # the run trains an anomaly model: stages and images, no epochs
        self.folds = 0  # a pretrained run: its "epochs" are the folds of the threshold check
        self._best_val_loss = math.inf
        self.reset(0)
        self.stage_label.setText(IDLE_TEXT)

    def show_idle(self) -> None:
        """As before any run (another workspace was opened)."""
        self.reset(0)
        self.stage_label.setText(IDLE_TEXT)

    def reset(self, epochs: int) -> None:
        self.epochs = epochs
        self._best_val_loss = math.inf
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.error_banner.hide()
        self.log.clear()

    def start(self, options: TrainOptions | AnomalyOptions) -> None:
        self.anomaly = isinstance(options, AnomalyOptions)
        self.folds = options.folds if not self.anomaly and options.preset == "pretrained" else 0
        if self.anomaly:
            self.reset(0)
            method = "PaDiM" if options.method == "padim" else "PatchCore"
            self.add_line(f"Started: find anomalies with {method}, learning good parts from the GO folder alone; "
                          f"input size {options.input_size}.")
            return
        self.reset(options.epochs or 0)  # automatic: known from the first batch
        if options.preset == "pretrained":
            tuning = (", then blocks 11-14 fine-tuned per fold (kept only if they judge unseen images better)"
                      if options.fine_tune else "")
            self.add_line(f"Started: pretrained preset (ImageNet backbone + head), input size {options.input_size}, "
                          f"threshold from {options.folds}-fold out-of-fold scores{tuning}.")
            return
        hard = (f" (epochs 3+ visit {options.hard_example_fraction:.0%} of the images, mostly the hard ones)"
                if (options.epochs is None or options.epochs > 2) and options.hard_example_fraction < 1 else "")
        epochs = f"{options.epochs} epochs" if options.epochs else "automatic number of epochs"
        self.add_line(f"Started: {epochs}{hard}, batch size {options.batch_size}, learning rate "
                      f"{options.learning_rate:g}, {options.image_size}x{options.image_size} px.")

    def show_stage(self, text: str) -> None:
        self.stage_label.setText(text + STAGE_HINTS.get(text, "") + ("…" if not text.endswith(".") else ""))
        if text.startswith(LOGGED_STAGES):  # what happened to the model, not only what runs now
            self.add_line(text.rstrip(".") + ".")
        if text == "Loading TensorFlow":
            self.bar.setRange(0, 0)  # busy indicator: no measurable progress while TF loads

    def show_decode(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"Reading images: {done} of {total}")

    def show_batch(self, p: BatchProgress) -> None:
        if self.bar.maximum() != p.images_total:
            self.bar.setRange(0, p.images_total)
        self.bar.setValue(p.images_done)
        if self.anomaly or self.folds:  # one pass per stage (the stage line says which): done of total
            self.bar.setFormat(f"{p.images_done} of {p.images_total} · about {duration_text(p.eta_s)} left")
            return
        self.epochs = p.epochs
        self.bar.setFormat(f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches} · "
                           f"{p.images_per_s:.0f} images/s · about {duration_text(p.eta_s)} left")

    def add_epoch(self, m: EpochMetrics) -> None:
        if self.folds:
            self.log.appendPlainText(fold_line(m, self.folds))
            return
        best = math.isfinite(m.val_loss) and m.val_loss < self._best_val_loss
        if best:
            self._best_val_loss = m.val_loss
        self.log.appendPlainText(epoch_line(m, self.epochs, best))

    def restart(self, why: str) -> None:
        """The engine started the run over: the epochs above belong to an abandoned attempt."""
        self._best_val_loss = math.inf
        self.add_line(f"— {why.rstrip('.') or 'The run started over'}. The epochs below count from 1 again; "
                      "the curves show this attempt only.")

    def add_line(self, text: str) -> None:
        self.log.appendPlainText(text)

    def show_finished(self, result: TrainResult) -> str:
        if self.anomaly:
            text = (f"Finished in {duration_text(result.seconds)}: an anomaly model saved as '{result.model.name}' "
                    f"(not active yet).")
        elif self.folds:
            text = (f"Finished in {duration_text(result.seconds)}: features, the {self.folds}-fold check of the "
                    f"threshold and the head. Saved as '{result.model.name}' (not active yet).")
        else:
            text = (f"Finished: {result.epochs_run} epochs in {duration_text(result.seconds)}; the best was epoch "
                    f"{result.best_epoch}. Saved as '{result.model.name}' (not active yet).")
        self._end(text, full=True)
        choice = result.threshold_choice
        if choice is not None:
            self.add_line(f"Threshold {choice.threshold:.3f}: {choice.reason}.")
        self._report_skipped(result.problems)
        return text

    def show_stopped(self, stopped: StoppedRun) -> str:
        result = stopped.result
        if result is not None and stopped.saved:
            text = (f"Stopped after {result.epochs_run} epoch(s). The best model (epoch {result.best_epoch}) was "
                    f"saved as '{result.model.name}'; it is not active.")
        else:
            text = "Stopped. Nothing was saved; the model list and the active model are unchanged."
        self._end(text, full=False)
        if result is not None:
            self._report_skipped(result.problems)
        return text

    def show_failed(self, reason: str) -> str:
        self._end("Training failed (the reason is in the red box). Nothing was saved.", full=False, log=False)
        self.error_banner.setText(f"Training failed: {reason}")
        self.error_banner.show()
        self.add_line(f"ERROR: {reason}")
        return f"Training failed: {reason}"

    def _end(self, text: str, full: bool, log: bool = True) -> None:
        self.stage_label.setText(text)
        if self.bar.maximum() == 0:  # still the busy indicator
            self.bar.setRange(0, 1)
        if full:
            self.bar.setValue(self.bar.maximum())
            self.bar.setFormat("Done")
        else:
            self.bar.setFormat(self.bar.format() + " (stopped)" if self.bar.format() else "")
        if log:
            self.add_line(text)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._follow_theme)  # the theme's colour table switches after the palette

    def _follow_theme(self) -> None:
        if theme.current_scheme() == self._scheme:
            return
        self._scheme = theme.current_scheme()
        fill, text, border = (theme.colour(n).name() for n in ("ngButton", "ngText", "ngBorder"))
        self.error_banner.setStyleSheet(f"background: {fill}; color: {text}; border: 1px solid {border}; "
                                        "padding: 6px; font-weight: bold;")

    def _report_skipped(self, problems) -> None:
        if problems:
            shown = "; ".join(f"{p.path.name} ({p.reason})" for p in problems[:5])
            self.add_line(f"{len(problems)} file(s) were skipped: {shown}{' …' if len(problems) > 5 else ''}")
