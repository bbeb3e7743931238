"""The training page: check the images, choose what to train (a GO/NG classifier with its preset, or an anomaly
model from good parts alone) and its options, watch a run, compare the result with the active model, activate
it (never automatically), and manage the stored models.

The run happens in the engine process, followed by a TrainingWorker thread; this page only shows what the
worker reports. The stored models come from the model catalogue the app shares between pages (a plain store
works too: the page then makes its own). The main window asks `is_busy()` / `confirm_close()` before
closing, then calls `shutdown()`; `set_workspace()` shows another workspace as if the page were new.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.core.training.anomaly_advice import anomaly_mode_hint
from fanqc_gui.core.training.engine_process import EngineProcess
from fanqc_gui.ui import theme
from fanqc_gui.ui.models.model_list import ModelList
from fanqc_gui.ui.training.architecture_table import ArchitectureTable
from fanqc_gui.ui.training.dataset_summary import DatasetSummary
from fanqc_gui.ui.training.model_comparison_view import ModelComparisonView
from fanqc_gui.ui.training.training_dialogs import SAVE, CloseDialog, StopDialog
from fanqc_gui.ui.training.training_options_form import ANOMALY, TrainingOptionsForm
from fanqc_gui.ui.training.training_page_layout import LOG_TAB, MODELS_TAB, RESULT_TAB, lay_out_training_page
from fanqc_gui.ui.training.training_plots import TrainingPlots
from fanqc_gui.ui.training.training_progress import TrainingProgress
from fanqc_gui.workers.dataset_scanner import DatasetScanner
from fanqc_gui.workers.model_catalogue import ModelCatalogue, as_catalogue
from fanqc_gui.workers.model_jobs import ModelJobs
from fanqc_gui.workers.training_worker import StoppedRun, TrainingWorker

NO_CURVES_TEXT = ("Finding anomalies has no learning curves: the good parts are described in one pass (patch "
                  "features, then their statistics), followed by the bar above. The threshold and the verdict "
                  "appear under '4. Result' when it ends.")


class TrainingPage(QWidget):
    status_message = Signal(str)
    first_layer_weights_ready = Signal(object)  # np.ndarray per epoch, for the insight page
    model_trained = Signal(str)  # id of a newly saved model
    busy_changed = Signal(bool)

    def __init__(self, workspace: Workspace | None, models: ModelStore | ModelCatalogue,
                 parent: QWidget | None = None, engine: EngineProcess | None = None):
        """models: the app's model catalogue (or a store, for a page on its own). engine: the process that runs
        TensorFlow jobs; by default the page starts (and closes) its own."""
        super().__init__(parent)
        self.setObjectName("trainingPage")
        self.catalogue = as_catalogue(models, self)
        self._workspace = workspace
        self._worker: TrainingWorker | None = None
        self._epochs_done = 0  # of the current attempt: as many as the curves' points and the log's last lines
        self._planned_epochs = 0  # 0 while unknown (the engine plans them when the epochs follow the data)
        self._run_keeps_best = True  # the run has epochs and a best model a stop can keep (reference preset)
        self._outcome = ""  # how the last run ended, in words
        self._stop_dialog: StopDialog | None = None
        self._close_dialog: CloseDialog | None = None
        self._shut_down = False  # after shutdown(), late reports of the run are ignored
        self._scanner = DatasetScanner(self)
        # Without TensorFlow (a lean station install) the page still lists and activates models.
        self._tf_missing = tf_runtime.missing_reason("Training")
        self._tf_jobs_missing = tf_runtime.missing_reason("Importing and exporting models")
        self._owns_engine = engine is None
        self._engine = engine or EngineProcess()
        self._jobs = ModelJobs(self._engine, self.catalogue.store, self)
        self.dataset = DatasetSummary()
        self.options_form = TrainingOptionsForm()
        self.architecture = ArchitectureTable()
        self.progress = TrainingProgress()
        self.plots = TrainingPlots()
        self.comparison = ModelComparisonView()
        self.models = ModelList(self.catalogue, self._jobs)
        self.start_button = QPushButton("Start training")
        self.start_button.setStyleSheet("font-weight: bold; padding: 6px 18px;")
        self.stop_button = QPushButton("Stop…", toolTip="Ends the run after the current batch (asks what to keep).")
        self.start_reason = QLabel(wordWrap=True)
        self.setup_tabs, self.lower_tabs = lay_out_training_page(self)
        self._connect()
        self.set_workspace(workspace)

    def _connect(self) -> None:
        self._scanner.scan_ready.connect(self._on_scanner_scan_ready)
        self._scanner.scan_failed.connect(self._on_scanner_scan_failed)
        self.dataset.rescan_requested.connect(self.refresh_dataset)
        self.dataset.anomaly_mode_requested.connect(self._on_dataset_anomaly_mode_requested)
        self.options_form.options_changed.connect(self._on_options_changed)
        self.plots.set_per_fold(self._trains_per_fold())  # the default preset's words
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self._jobs.busy_changed.connect(self._update_controls)
        self.comparison.activate_requested.connect(self.models.activate)
        self.catalogue.changed.connect(self._on_catalogue_changed)
        self.models.status_message.connect(self.status_message)

    # ---- public -----------------------------------------------------------------------------------------
    @Slot(object)
    def set_workspace(self, workspace: Workspace | None) -> None:
        """Show another workspace as if the page were new on it: no curves, log, result or counts of the
        previous one. A run in progress keeps training on the workspace it started with, and stays shown."""
        self._workspace = workspace
        if not self.is_training():
            self._epochs_done = self._planned_epochs = 0
            self._outcome = ""
            self.plots.clear(None)
            self.progress.show_idle()
            self.comparison.clear()
            self.options_form.name.clear()  # a name typed for the other workspace's model
            self.lower_tabs.setCurrentIndex(MODELS_TAB)
        elif workspace is not None:
            self.progress.add_line(f"Workspace {workspace.root} opened; this run goes on with the images it "
                                   "started with.")
        self.dataset.show_no_workspace()  # no counts of the previous workspace while the new one is counted
        if workspace is not None:
            self.models.set_mapping(workspace.mapping)
            self.refresh_dataset()
        self.models.refresh()
        self.comparison.set_active_id(self.catalogue.active_id())
        self._update_controls()

    def showEvent(self, event) -> None:
        """Shown: count the images again (they may have been sorted meanwhile) and let the engine load
        TensorFlow in the background, so Start does not wait for it."""
        super().showEvent(event)
        if not self._shut_down and not self.is_training():
            self.refresh_dataset()
            if self._workspace is not None and self._tf_missing is None:
                self._engine.start()

    @Slot()
    def refresh_dataset(self) -> None:
        if self._workspace is not None:
            self.dataset.show_scanning(self._workspace)
            self._scanner.scan(self._workspace)
            self._update_controls()

    def is_training(self) -> bool:
        return self._worker is not None and self._worker.is_running()

    def is_busy(self) -> bool:
        return self.is_training() or self._jobs.is_busy()

    def request_stop(self, save_best: bool) -> None:
        if self.is_training():
            self._worker.request_stop(save_best)
            self.progress.show_stage("Stopping after the current batch")
            self._update_controls()

    def confirm_close(self) -> bool:
        """Ask before closing while a run is in progress. True: go ahead and call shutdown(). The run goes on
        while the question is open; when it ends first, the question closes and the window stays open."""
        if not self.is_training():
            return True
        dialog = self._close_dialog = CloseDialog(self, self._epochs_done, self._planned_epochs,
                                                  self._run_keeps_best)
        try:
            dialog.exec()
            return dialog.accepted_close()  # False when the run ended first and closed the question
        finally:
            self._close_dialog = None
            dialog.deleteLater()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop the run (nothing saved) and every background job, and wait for them. A save under way completes
        (atomically). A run still going after timeout_ms returns False; the page's own engine is then ended
        by force (the store never shows a half-written model), so no thread is left running."""
        self._shut_down = True
        if self._stop_dialog is not None:
            self._stop_dialog.done(0)
        stopped = True
        if self._worker is not None:
            self._worker.request_stop(save_best=False)
            stopped = self._worker.wait(timeout_ms)
        if self._owns_engine:
            self._engine.close(timeout_s=10 if stopped else 0)  # ends a child still busy: its job gets EOF
            if self._worker is not None:
                self._worker.wait()  # returns at once: the engine is gone
        self._jobs.shutdown()
        self._scanner.shutdown()
        return stopped

    # ---- starting and stopping ------------------------------------------------------------------------
    @Slot()
    def _on_start_clicked(self) -> None:
        if self._start_blocker() is not None or self._workspace is None:
            return
        options = self.options_form.run_options()
        anomaly = self.options_form.is_anomaly()
        self._epochs_done = 0
        self._planned_epochs = 0 if anomaly else options.epochs or 0
        self._run_keeps_best = not anomaly and options.preset == "reference"  # epochs, with a best model
        self._outcome = ""
        self.progress.start(options)
        pretrained = self._trains_per_fold()
        self.plots.set_per_fold(pretrained)
        self.plots.clear(options.folds if pretrained else None if anomaly else options.epochs)
        self.plots.set_no_curves(NO_CURVES_TEXT if anomaly else None)
        self.comparison.clear()
        self.lower_tabs.setCurrentIndex(LOG_TAB)
        worker = TrainingWorker(self._engine, self._workspace, self.catalogue.store, options,
                                self.options_form.model_name())
        worker.stage_changed.connect(self.progress.show_stage)
        worker.decode_progressed.connect(self.progress.show_decode)
        worker.batch_progressed.connect(self._on_worker_batch_progressed)
        worker.training_restarted.connect(self._on_worker_training_restarted)
        worker.epoch_finished.connect(self._on_worker_epoch_finished)
        worker.first_layer_weights_ready.connect(self.first_layer_weights_ready)
        worker.training_finished.connect(self._on_worker_training_finished)
        worker.training_stopped.connect(self._on_worker_training_stopped)
        worker.training_failed.connect(self._on_worker_training_failed)
        worker.comparison_ready.connect(self._on_worker_comparison_ready)
        worker.comparison_failed.connect(self.comparison.show_error)
        worker.run_ended.connect(self._on_worker_run_ended)
        self._worker = worker
        worker.start()
        self.status_message.emit("Training started")
        self._update_controls()
        self.busy_changed.emit(True)

    @Slot()
    def _on_stop_clicked(self) -> None:
        """Ask what to keep. The question does not block the page: the run goes on (the dialog's count follows
        it) and its answer is read when given (_on_stop_dialog_finished)."""
        if not self.is_training() or self._stop_dialog is not None:
            return
        dialog = self._stop_dialog = StopDialog(self, self._epochs_done, self._planned_epochs, self._run_keeps_best)
        dialog.finished.connect(self._on_stop_dialog_finished)
        dialog.open()

    @Slot(int)
    def _on_stop_dialog_finished(self, _result: int) -> None:
        dialog, self._stop_dialog = self._stop_dialog, None
        if dialog is None:
            return
        choice = dialog.choice()
        dialog.deleteLater()
        if choice is None or self._shut_down:
            return
        if self.is_training():
            self.request_stop(save_best=choice == SAVE)
        else:  # answered in the moment the run ended
            self._tell_run_ended_first("The run had already ended; nothing was stopped.")

    def _tell_run_ended_first(self, lead: str) -> None:
        text = f"{lead} {self._outcome}".strip()
        self.progress.stage_label.setText(text)
        self.status_message.emit(text)

    # ---- worker reports ----------------------------------------------------------------------------------
    @Slot(object)
    def _on_worker_batch_progressed(self, progress) -> None:
        self.progress.show_batch(progress)
        if self.progress.anomaly or self.progress.folds:
            return  # one pass per stage, or a pretrained run's features: no epochs to plan
        if progress.epochs != self._planned_epochs:
            self._planned_epochs = progress.epochs
            self.plots.set_planned(progress.epochs)

    @Slot(str)
    def _on_worker_training_restarted(self, why: str) -> None:
        """The engine started the run over: what the curves and the count showed was an abandoned attempt."""
        self._epochs_done = 0
        self.plots.clear(self._planned_epochs)
        self.progress.restart(why)
        self._update_dialogs()

    @Slot(object)
    def _on_worker_epoch_finished(self, metrics) -> None:
        self._epochs_done = metrics.epoch
        self.plots.add_epoch(metrics)
        self.progress.add_epoch(metrics)
        self._update_dialogs()

    @Slot(object)
    def _on_worker_training_finished(self, result) -> None:
        self.plots.flush()
        self._outcome = self.progress.show_finished(result)
        self.status_message.emit(self._outcome)
        self._after_model_saved(result.model)

    @Slot(object)
    def _on_worker_training_stopped(self, stopped: StoppedRun) -> None:
        self.plots.flush()
        self._outcome = self.progress.show_stopped(stopped)
        self.status_message.emit(self._outcome)
        if stopped.result is not None and stopped.result.model is not None:
            self._after_model_saved(stopped.result.model)

    @Slot(str)
    def _on_worker_training_failed(self, reason: str) -> None:
        self.plots.flush()
        self._outcome = self.progress.show_failed(reason)
        self.status_message.emit(self._outcome)

    @Slot()
    def _on_worker_run_ended(self) -> None:
        if self._worker is not None:
            self._worker.wait()  # the thread is past its last signal and ends at once
        self._update_controls()
        self.busy_changed.emit(self.is_busy())
        self._close_dialogs_of_ended_run()

    def _after_model_saved(self, info: ModelInfo) -> None:
        if self._shut_down:
            return
        self.comparison.show_pending(info.id, info.name)
        self.catalogue.notify_changed()  # the engine process wrote it: every page lists it
        self.models.select_model(info.id)
        self.lower_tabs.setCurrentIndex(RESULT_TAB)
        self.model_trained.emit(info.id)  # the engine measures it next to the active model (comparison_ready)

    @Slot(object)
    def _on_worker_comparison_ready(self, comparison) -> None:
        if comparison.new.model_id == self.comparison.model_id:
            self.comparison.show_comparison(comparison)

    # ---- open questions follow the run ------------------------------------------------------------------
    def _update_dialogs(self) -> None:
        for dialog in (self._stop_dialog, self._close_dialog):
            if dialog is not None:
                dialog.set_epochs_done(self._epochs_done, self._planned_epochs)

    def _close_dialogs_of_ended_run(self) -> None:
        """The run ended while a question about it was open: close it (there is nothing left to stop) and say
        how the run ended."""
        if self._stop_dialog is not None:
            dialog, self._stop_dialog = self._stop_dialog, None
            dialog.finished.disconnect(self._on_stop_dialog_finished)
            dialog.done(0)
            dialog.deleteLater()
            self._tell_run_ended_first("The run ended before you answered.")
        if self._close_dialog is not None:
            self._close_dialog.done(0)  # confirm_close returns False: the window stays, the result shows
            self._tell_run_ended_first("The run ended before you answered; close the window again to quit.")

    # ---- other reports -------------------------------------------------------------------------------------
    @Slot(object)
    def _on_scanner_scan_ready(self, report) -> None:
        if self._workspace is None or report.root != self._workspace.root:
            return  # a scan of the workspace shown before
        # Folder listings only (the scan has just read them): where the classifier cannot train, the
        # anomaly mode is suggested.
        options = self.options_form.options()
        self.dataset.show_report(report, options.val_split, anomaly_mode_hint(self._workspace), _folds(options))
        self._update_controls()

    @Slot(str)
    def _on_scanner_scan_failed(self, reason: str) -> None:
        self.dataset.show_error(reason)
        self._update_controls()

    def _trains_per_fold(self) -> bool:
        """Start would train the pretrained preset: its curves are the folds of the threshold check."""
        return not self.options_form.is_anomaly() and self.options_form.options().preset == "pretrained"

    @Slot()
    def _on_options_changed(self) -> None:
        options = self.options_form.options()
        self.architecture.set_image_size(options.image_size)
        self.architecture.set_network(ANOMALY if self.options_form.is_anomaly() else options.preset)
        self.dataset.set_anomaly_mode(self.options_form.is_anomaly())
        if not self.is_training() and self.plots.epochs_shown == 0:  # empty curves speak of what Start trains
            self.plots.set_per_fold(self._trains_per_fold())
        if self.dataset.report is not None:
            self.dataset.show_report(self.dataset.report, options.val_split, self.dataset.anomaly_hint,
                                     _folds(options))
        self._update_controls()

    @Slot()
    def _on_dataset_anomaly_mode_requested(self) -> None:
        self.options_form.set_mode(ANOMALY)
        self.setup_tabs.setCurrentWidget(self.options_form)
        self.status_message.emit("Mode: Find anomalies (GO only). Press Start training to learn the good parts.")

    @Slot()
    def _on_catalogue_changed(self) -> None:
        """A model was added, removed, renamed or activated (here, on another page or by another program)."""
        self.comparison.set_active_id(self.catalogue.active_id())
        if self.comparison.model_id is not None and self.comparison.model_id not in self.models.model_ids():
            self.comparison.clear()

    # ---- state ---------------------------------------------------------------------------------------------
    def _start_blocker(self) -> str | None:
        if self._tf_missing:
            return self._tf_missing
        if self.is_training():
            return "Training is running."
        if self._jobs.is_busy():
            return "Waiting for the import or export in progress."
        blocker = self.dataset.start_blocker()
        if blocker is not None:
            return blocker
        try:
            self.options_form.run_options().validate()
        except ValueError as exc:
            return f"Check the options: {exc}."
        return None

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            QTimer.singleShot(0, self, self._update_controls)  # the reason's red follows the theme

    @Slot()
    def _update_controls(self, *_args) -> None:
        training = self.is_training()
        blocker = self._start_blocker()
        self.start_button.setEnabled(blocker is None)
        self.start_button.setToolTip(blocker or "Train a new model with these images and options.")
        self.stop_button.setEnabled(training and not self._worker.stop_requested())
        self.options_form.setEnabled(not training)
        self.dataset.rescan_button.setEnabled(not training)
        self.models.set_tf_jobs_blocked("Not available while a training run is in progress." if training else
                                        self._tf_jobs_missing)
        if training:
            self.start_reason.setText("Training… the station keeps using the active model. Other pages stay usable.")
        elif blocker:
            self.start_reason.setText(f"<span style='color:{theme.colour('ngText').name()}'>Start is not possible: "
                                      f"{blocker}</span>")
        else:
            self.start_reason.setText("Ready. The new model is added to the list of models; it becomes active only "
                                      "when you press Activate.")


def _folds(options) -> int | None:
    """The pretrained preset's k-fold (what the dataset summary speaks of), else None."""
    return options.folds if options.preset == "pretrained" else None
