"""What the training page shows of a run, driven through a scripted engine: the questions asked while the run
goes on (their epoch count, and what happens when the run ends first), a run the engine starts over, and a
workspace switch (nothing of the previous workspace stays).

The scripted engine follows EngineProcess's protocol (run() on the worker's thread, events through on_event,
request_stop from any thread, a saved model written into the store) but plays a fixed list of events; at
each GATE it waits until the test calls advance(), so the test decides when each epoch ends.
"""
from __future__ import annotations

import itertools
import json
import shutil
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.training.trainer import EpochMetrics, TrainResult
from fanqc_gui.ui.training.training_dialogs import CLOSE_DIALOG, STOP_DIALOG
from fanqc_gui.ui.training.training_page import TrainingPage
from fanqc_gui.ui.training.training_page_layout import MODELS_TAB
from fanqc_gui.ui.training.training_progress import IDLE_TEXT
from fanqc_gui.workers.model_catalogue import ModelCatalogue

GATE = "gate"
RETRY = "Training again at learning rate 0.001: the output went constant in epoch 1 (every validation image " \
        "scored 0.500)"
SAFETY_MS = 15_000  # a question nobody answers is answered "No"/"Continue" then, so a failing test ends


def _epoch(n: int, val_loss: float = 0.5) -> tuple[str, EpochMetrics]:
    return "epoch", EpochMetrics(n, 0.6 / n, 0.7 + 0.05 * n, val_loss / n, 0.7 + 0.05 * n, 0.5)


def _write_model(store: ModelStore, model_id: str, name: str, created: str = "2026-02-01T08:00:00+01:00"):
    folder = store.root / model_id
    folder.mkdir(parents=True)
    meta = {"name": name, "created": created, "threshold": 0.4, "preprocessing": {"width": 32, "height": 32},
            "validation": {"accuracy": 0.9, "ng_recall": 1.0},
            "dataset": {"counts": {"train": {"GO": 19, "NG": 19}, "val": {"GO": 5, "NG": 5}}}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    return store.get(model_id)


class ScriptedEngine:
    pid = None

    def __init__(self, store: ModelStore):
        self.store = store
        self.steps: list = []
        self._ids = itertools.count(1)
        self._gate = threading.Semaphore(0)
        self._stop = threading.Event()
        self._save_best = False

    def start(self) -> None:
        pass

    def new_job_id(self) -> int:
        return next(self._ids)

    def advance(self) -> None:
        self._gate.release()

    def request_stop(self, job_id=None, save_best: bool = False) -> None:
        self._save_best = save_best
        self._stop.set()

    def close(self, timeout_s: float = 60.0) -> bool:
        self._stop.set()
        return True

    def run(self, kind, on_event=None, job_id=None, **job):
        history = []
        for step in self.steps:
            if step == GATE:
                while not self._gate.acquire(timeout=0.02):
                    if self._stop.is_set():
                        return self._result(history, job.get("name"), stopped=True)
                continue
            name, data = step
            if name == "epoch":
                history.append(data)
            on_event(name, data)
        return self._result(history, job.get("name"), stopped=False)

    def _result(self, history, name, stopped: bool) -> TrainResult:
        info = None
        if history and (self._save_best or not stopped):  # saved as the engine saves: into the store
            info = _write_model(self.store, "new-model", name or "Scripted model", "2026-03-01T08:00:00+01:00")
        best = min(history, key=lambda m: m.val_loss).epoch if history else 0
        return TrainResult(info, history, len(history), best, 1.0, stopped)


def _when(condition, action, deadline_ms: int = SAFETY_MS) -> None:
    """Run action (on the GUI thread) as soon as condition() holds, checked every 20 ms; give up after
    deadline_ms. Works inside a dialog's own event loop too."""
    left = [deadline_ms // 20]

    def attempt():
        if condition():
            action()
        elif left[0] > 0:
            left[0] -= 1
            QTimer.singleShot(20, attempt)

    QTimer.singleShot(0, attempt)


def _question(object_name: str):
    box = QApplication.activeModalWidget()
    return box if box is not None and box.objectName() == object_name else None


def _click(object_name: str, text: str) -> None:
    box = _question(object_name)
    for button in box.buttons():
        if button.text().replace("&", "") == text:
            button.click()
            return
    raise AssertionError(f"no button {text!r} in {[b.text() for b in box.buttons()]}")


def _answer_unanswered(object_name: str, text: str) -> None:
    """The safety net: a question still open after SAFETY_MS is answered, so a failing test fails, not hangs."""
    QTimer.singleShot(SAFETY_MS, lambda: _question(object_name) and _click(object_name, text))


def _epoch_lines_since_restart(page) -> list[str]:
    lines = page.progress.log.toPlainText().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("—")]
    return [line.split(" ·")[0] for line in lines[(starts[-1] + 1 if starts else 0):] if line.startswith("Epoch ")]


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


@pytest.fixture
def catalogue(store):
    return ModelCatalogue(store)


@pytest.fixture
def engine(store):
    return ScriptedEngine(store)


@pytest.fixture
def page(qtbot, demo_workspace, catalogue, engine):
    page = TrainingPage(open_workspace(demo_workspace), catalogue, engine=engine)
    qtbot.addWidget(page)
    page.resize(1280, 660)
    page.show()
    form = page.options_form
    form.preset.setCurrentIndex(form.preset.findData("reference"))  # runs with epochs and a best model to keep
    form.epochs.setValue(5)
    page.options_form.name.setText("Scripted model")
    qtbot.waitUntil(lambda: page.start_button.isEnabled())
    yield page
    engine.request_stop()
    assert page.shutdown(10_000)


def _start(qtbot, page) -> None:
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.is_training()


def test_after_the_engine_starts_the_run_over_the_stop_question_counts_what_the_log_and_curves_show(
        qtbot, page, engine):
    # The first attempt collapses in epoch 1 and is retried: its epoch is no part of the run that goes on.
    engine.steps = [("stage", "Training"), _epoch(1), ("stage", RETRY), _epoch(1), _epoch(2), GATE]
    _start(qtbot, page)
    qtbot.waitUntil(lambda: _epoch_lines_since_restart(page)[-1:] == ["Epoch 2/5"])
    asked = []
    _when(lambda: _question(STOP_DIALOG), lambda: (asked.append(_question(STOP_DIALOG).informativeText()),
                                                   _click(STOP_DIALOG, "Continue training")))
    _answer_unanswered(STOP_DIALOG, "Continue training")
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked))
    page.plots.flush()
    said = int(asked[0].split()[0])  # "2 epochs are done (epoch 3 is under way; ...)"
    assert said == page.plots.epochs_shown == len(_epoch_lines_since_restart(page)) == 2
    assert asked[0].startswith("2 epochs are done (epoch 3 is under way")
    assert _epoch_lines_since_restart(page) == ["Epoch 1/5", "Epoch 2/5"]
    assert "Training again at learning rate 0.001" in page.progress.log.toPlainText()  # why, in the log
    assert page.is_training()  # "Continue training"
    engine.advance()
    qtbot.waitUntil(lambda: not page.is_busy())


def test_the_stop_question_follows_the_run_and_closes_when_the_run_ends_first(qtbot, page, engine, catalogue):
    engine.steps = [_epoch(1), GATE, _epoch(2), GATE]
    statuses = []
    page.status_message.connect(statuses.append)
    _start(qtbot, page)
    qtbot.waitUntil(lambda: page.progress.log.toPlainText().count("Epoch ") == 1)
    _answer_unanswered(STOP_DIALOG, "Continue training")
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)  # the question opens; the run goes on
    qtbot.waitUntil(lambda: _question(STOP_DIALOG) is not None)
    box = _question(STOP_DIALOG)
    assert box.informativeText().startswith("1 epoch is done (epoch 2 is under way")
    engine.advance()  # epoch 2 ends while the question is open
    qtbot.waitUntil(lambda: box.informativeText().startswith("2 epochs are done"))
    engine.advance()  # and the run ends (all 2 scripted epochs), its model saved
    qtbot.waitUntil(lambda: not page.is_training())
    qtbot.waitUntil(lambda: _question(STOP_DIALOG) is None, timeout=2000)  # nothing left to stop: it closed
    said = page.progress.stage_label.text()
    assert said.startswith("The run ended before you answered.") and "Saved as 'Scripted model'" in said
    assert said in statuses
    assert "new-model" in page.models.model_ids() and catalogue.active_id() is None  # kept, not activated


@pytest.mark.parametrize("mode, preset", [("classify", "pretrained"), ("anomaly", None)])
def test_runs_that_save_only_at_the_end_are_stopped_without_an_offer_to_keep_a_model(qtbot, page, engine, mode,
                                                                                    preset):
    form = page.options_form
    (form.anomaly_radio if mode == "anomaly" else form.classify_radio).click()  # as the user picks it
    if preset:
        form.preset.setCurrentIndex(form.preset.findData(preset))
    engine.steps = [("stage", "Computing features"), _epoch(1), GATE]
    _start(qtbot, page)
    qtbot.waitUntil(lambda: "Computing features" in page.progress.stage_label.text())
    seen = []
    _when(lambda: _question(STOP_DIALOG), lambda: (seen.append((_question(STOP_DIALOG).text(),
                                                                _question(STOP_DIALOG).informativeText(),
                                                                [b.text().replace("&", "") for b in
                                                                 _question(STOP_DIALOG).buttons()])),
                                                   _click(STOP_DIALOG, "Stop, keep nothing")))
    _answer_unanswered(STOP_DIALOG, "Continue training")
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_busy())
    text, informative, buttons = seen[0]
    assert "epoch" not in (text + informative).lower() and "stopping keeps nothing" in informative
    assert sorted(buttons) == ["Continue training", "Stop, keep nothing"]
    # the thread ends first; its last report (queued to the GUI thread) follows a moment later
    qtbot.waitUntil(lambda: page.progress.stage_label.text().startswith("Stopped. Nothing was saved"))
    assert page.models.model_ids() == []


def test_the_close_question_follows_the_run_and_keeps_the_window_when_the_run_ends_first(qtbot, page, engine):
    engine.steps = [_epoch(1), GATE, _epoch(2), GATE]
    _start(qtbot, page)
    qtbot.waitUntil(lambda: page.progress.log.toPlainText().count("Epoch ") == 1)
    questions = []

    def read_then(action):
        def step():
            questions.append(_question(CLOSE_DIALOG).text())
            action()
        return step

    def after_first():  # epoch 2 ends while the question is open; then the run ends
        _when(lambda: "2 epochs" in _question(CLOSE_DIALOG).text(), read_then(engine.advance), 3000)

    _when(lambda: _question(CLOSE_DIALOG), read_then(lambda: (engine.advance(), after_first())))
    _answer_unanswered(CLOSE_DIALOG, "No")
    assert page.confirm_close() is False  # the question closed itself: the window stays with the result
    assert questions[0] == "A training run is in progress: 1 epoch is done (epoch 2 is under way; stopping " \
                           "abandons it). Stop it and close?"
    assert questions[1].startswith("A training run is in progress: 2 epochs are done")
    assert not page.is_training()
    assert "close the window again" in page.progress.stage_label.text()
    assert page.confirm_close() is True  # nothing runs now: no question


def _run_to_the_end(qtbot, page, engine, store, catalogue) -> None:
    _write_model(store, "old-model", "January model", "2026-01-01T08:00:00+01:00")
    catalogue.activate("old-model")
    engine.steps = [_epoch(1), _epoch(2), _epoch(3), GATE]
    _start(qtbot, page)
    engine.advance()
    qtbot.waitUntil(lambda: not page.is_busy())
    page.plots.flush()
    assert page.plots.epochs_shown == 3 and page.comparison.model_id == "new-model"
    assert page.comparison.activate_button.text() == "Activate new model"


def test_a_new_model_activated_on_another_page_shows_as_active_here(qtbot, page, engine, catalogue, store):
    _run_to_the_end(qtbot, page, engine, store, catalogue)
    catalogue.activate("new-model")  # at the Camera page, in Insight or by `fanqc models activate`
    assert page.comparison.activate_button.text() == "This model is active"
    assert not page.comparison.activate_button.isEnabled()
    assert page.models.table.item(page.models.model_ids().index("new-model"), 0).text() == "● active"


def test_a_new_workspace_shows_nothing_of_the_previous_one(qtbot, page, engine, catalogue, store, demo_workspace,
                                                           tmp_path):
    _run_to_the_end(qtbot, page, engine, store, catalogue)
    other = tmp_path / "other-ws"
    shutil.copytree(demo_workspace, other)
    for extra in sorted((other / "GO").iterdir())[20:]:
        extra.unlink()
    page.set_workspace(open_workspace(other))
    assert page.plots.epochs_shown == 0 and page.progress.log.toPlainText() == ""
    assert page.progress.stage_label.text() == IDLE_TEXT and page.progress.bar.format() == ""
    assert page.comparison.model_id is None and not page.comparison.activate_button.isVisible()
    assert page.options_form.name.text() == ""  # a name typed for the other workspace's model
    assert page.lower_tabs.currentIndex() == MODELS_TAB
    assert "GO: 24" not in page.dataset.counts_label.text()  # no counts of the previous workspace meanwhile
    qtbot.waitUntil(lambda: page.dataset.report is not None)
    assert "GO: 20</b>" in page.dataset.counts_label.text()
    rows = {page.models.table.item(r, 0).data(Qt.ItemDataRole.UserRole): page.models.table.item(r, 0).text()
            for r in range(page.models.table.rowCount())}
    assert rows == {"new-model": "", "old-model": "● active"}
