"""The training page driven like a supervisor would, on tiny generated data (32x32 px, a few epochs)."""
from __future__ import annotations

import json
import shutil

import pytest
from engine_helpers import shared_engine
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox
from ui_helpers import click_dialog_button

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training.trainer import TrainingError, TrainOptions
from fanqc_gui.ui.models import model_list as model_list_module
from fanqc_gui.ui.models.model_list import COLUMNS
from fanqc_gui.ui.training.training_dialogs import CLOSE_DIALOG, STOP_DIALOG
from fanqc_gui.ui.training.training_page import TrainingPage

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")
RUN_MS = 60_000
PRETRAINED_RUN_MS = 240_000  # features, k-fold, two TFLite conversions of the backbone: ~50 s alone on 2 cores


def _make_page(qtbot, workspace, store) -> TrainingPage:
    page = TrainingPage(workspace, store, engine=shared_engine())
    qtbot.addWidget(page)
    page.resize(1440, 900)
    page.show()
    return page


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


@pytest.fixture
def page(qtbot, demo_workspace, store):
    page = _make_page(qtbot, open_workspace(demo_workspace), store)
    form = page.options_form
    form.preset.setCurrentIndex(form.preset.findData("reference"))  # runs with epochs (not the default preset)
    form.image_size.setValue(32)
    form.epochs.setValue(3)
    form.batch_size.setValue(8)
    form.early_stopping.setChecked(False)
    qtbot.waitUntil(lambda: page.dataset.report is not None)
    yield page
    assert page.shutdown(30_000)


def _fake_model(store: ModelStore, model_id: str, name: str) -> None:
    folder = store.root / model_id
    folder.mkdir(parents=True)
    meta = {"name": name, "created": f"2026-01-0{len(store.list()) + 1}T08:00:00+01:00", "threshold": 0.4,
            "preprocessing": {"width": 32, "height": 32}, "validation": {"accuracy": 0.9, "ng_recall": 1.0},
            "dataset": {"counts": {"train": {"GO": 19, "NG": 19}, "val": {"GO": 5, "NG": 5}}}}
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def reference_h5(tmp_path_factory):
    """An old model file made like /work/shared/reference/seed_train.py: its Sequential CNN, saved as .h5."""
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    layers = keras.layers
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(80, 80, 3)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("reference") / "fan_model.h5"
    model.save(path)
    return path


# ---- before training -------------------------------------------------------------------------------------
def test_the_page_shows_what_will_be_trained_on_and_the_network(qtbot, demo_workspace, store):
    shutil.copy(demo_workspace / "GO" / "go_0000.jpg", demo_workspace / "GO" / "copy_of_go_0000.jpg")
    (demo_workspace / "NG" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 half a file")
    page = _make_page(qtbot, open_workspace(demo_workspace), store)
    try:
        qtbot.waitUntil(lambda: page.dataset.report is not None)
        text = page.dataset.counts_label.text()
        assert "GO: 24</b>" in text and "NG: 24</b>" in text and "8 unsorted inbox images are not used" in text
        assert "output = probability of NG" in page.dataset.mapping_label.text()
        assert "1 group(s) of identical files" in page.dataset.warning_label.text()
        items = [page.dataset.problems_list.item(i).text() for i in range(page.dataset.problems_list.count())]
        assert len(items) == 1 and items[0].startswith("NG/broken.jpg — ") and "JPEG" in items[0]
        rows = page.architecture.row_texts()  # the engine default, 80x80
        assert [r[1] for r in rows[:3]] == ["80 x 80 x 3", "78 x 78 x 32", "39 x 39 x 32"]
        assert rows[1][2] == "896" and "filters" in rows[1][3] and "sigmoid" in rows[-1][0]
        assert "binary cross-entropy" in page.architecture.loss_label.text()
        page.options_form.image_size.setValue(32)
        assert page.architecture.row_texts()[1][1] == "30 x 30 x 32"
        assert page.start_button.isEnabled()
        form = page.options_form
        # Engine defaults: the epochs follow the data and class weighting turns on for a scarce class.
        assert form.epochs.text() == "automatic" and form.options().epochs is None
        assert form.class_weighting.currentText().startswith("automatic") and form.options().class_weighting is None
        form.epochs.setValue(4)
        assert form.options().epochs == 4
        assert form.hard_share.value() == 50 and form.hard_share.isEnabled()
        form.hard_share.setValue(100)
        assert form.options().hard_example_fraction == 1.0  # every image in every epoch
        form.epochs.setValue(2)
        assert not form.hard_share.isEnabled()  # only epochs 3+ are hard-example epochs
    finally:
        page.shutdown()


def test_start_is_disabled_with_the_reason(qtbot, demo_workspace, store):
    for extra in sorted((demo_workspace / "NG").iterdir())[3:]:
        extra.unlink()
    page = _make_page(qtbot, open_workspace(demo_workspace), store)
    no_workspace = _make_page(qtbot, None, store)
    try:
        qtbot.waitUntil(lambda: page.dataset.report is not None)
        assert not page.start_button.isEnabled()
        assert "class NG has 3 usable image(s)" in page.start_reason.text()
        assert "Imbalance" in page.dataset.warning_label.text()
        assert not no_workspace.start_button.isEnabled()
        assert "No workspace is open" in no_workspace.start_reason.text()
    finally:
        page.shutdown()
        no_workspace.shutdown()


def test_an_engine_error_is_shown_in_the_page(qtbot, page, monkeypatch):
    def diverging(*_args, **_kwargs):
        raise TrainingError("the loss became NaN at epoch 1, batch 2: training diverged. Lower the learning rate")

    monkeypatch.setattr(shared_engine(), "run", diverging)
    with qtbot.waitSignal(page.busy_changed, timeout=RUN_MS, check_params_cb=lambda busy: not busy):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.progress.error_banner.isVisible()
    assert "the loss became NaN at epoch 1" in page.progress.error_banner.text()
    assert page.start_button.isEnabled() and not page.stop_button.isEnabled()


# ---- a run -----------------------------------------------------------------------------------------------
@pytest.mark.slow
@needs_tf
def test_a_run_from_start_to_activation(qtbot, page, store, reference_h5):
    """A new user's run: the page's default preset (pretrained), Start, the result compared with the active
    model, the verdict, Activate."""
    form = page.options_form
    form.preset.setCurrentIndex(form.preset.findData(TrainOptions().preset))
    assert form.preset.currentData() == "pretrained" and not form.epochs.isVisibleTo(page)
    old = shared_engine().run("import_h5", store_root=store.root, path=reference_h5, name="from the old script")
    store.activate(old.id)
    page.models.refresh()
    drawn = []  # curve lengths each time the plot is redrawn
    page.plots.loss_train.sigPlotChanged.connect(lambda _item: drawn.append(page.plots.epochs_shown))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.is_busy() and page.stop_button.isEnabled() and not page.options_form.isEnabled()
    qtbot.waitUntil(lambda: page.comparison.comparison is not None, timeout=PRETRAINED_RUN_MS)
    assert not page.is_busy()
    page.plots.flush()
    folds = TrainOptions().folds  # one point per fold of the threshold's k-fold
    assert drawn == sorted(drawn) and page.plots.epochs_shown == folds
    assert [len(c.yData) for c in (page.plots.loss_val, page.plots.acc_train, page.plots.acc_val)] == [folds] * 3
    log = page.progress.log.toPlainText()
    assert "Saved as" in log and f"Fold {folds}/{folds} · " in log and "Epoch " not in log  # folds, not epochs
    assert page.progress.stage_label.text().startswith("Finished in ") and f"{folds}-fold" in \
        page.progress.stage_label.text()
    assert "are learned from; each is also scored by a head that never saw it" in page.dataset.counts_label.text()
    assert "fold" in page.plots.legend.text() and "best epoch" not in page.plots.legend.text()
    assert store.get(page.comparison.comparison.new.model_id).metadata["preset"] == "pretrained"
    comparison = page.comparison.comparison
    new_id = comparison.new.model_id
    assert comparison.active is not None and comparison.active.model_id == old.id  # same images, both models
    assert comparison.new.metrics.images == comparison.active.metrics.images > 0
    assert page.models.model_ids()[0] == new_id and page.models.selected_id() == new_id
    assert store.active_id() == old.id  # nothing became active by itself
    assert page.comparison.activate_button.isVisible()
    if store.get(new_id).readiness()[0] is False:  # a model of a few dozen images: the supervisor decides
        click_dialog_button("activateNotReady", "Activate anyway")
    qtbot.mouseClick(page.comparison.activate_button, Qt.MouseButton.LeftButton)
    assert json.loads((store.root / "active.json").read_text())["model"] == new_id
    assert page.models.table.item(0, 0).text() == "● active"
    assert not page.comparison.activate_button.isEnabled()


@pytest.mark.slow
@needs_tf
def test_a_fine_tuning_run_shows_its_stages_and_folds_and_says_whether_it_kept_the_tuning(qtbot, page, store):
    form = page.options_form
    form.preset.setCurrentIndex(form.preset.findData("pretrained"))
    form.orientation.setCurrentIndex(form.orientation.findData("off"))
    qtbot.mouseClick(form.fine_tune, Qt.MouseButton.LeftButton)
    assert form.run_options().fine_tune
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.comparison.comparison is not None, timeout=PRETRAINED_RUN_MS)
    page.plots.flush()
    log = page.progress.log.toPlainText()
    assert "then blocks 11-14 fine-tuned per fold" in log.splitlines()[0]
    assert "Fine-tuning blocks 11-14: fold 1 of 5." in log and "Saved as" in log
    assert "Fold 5/5 · head on the other folds" in log and "Fine-tuned fold 5/5 · tuned network" in log
    report = store.get(page.comparison.comparison.new.model_id).metadata["training"]["fine_tuned"]
    folds = TrainOptions().folds
    assert page.plots.epochs_shown == 2 * folds  # the tuned folds continue the frozen head's on the curves
    kind = page.models.table.item(0, COLUMNS.index("Kind")).text()
    if report["kept"]:
        assert kind == "GO/NG · pretrained · fine-tuned"
    else:  # the log says why the frozen model was saved
        assert "Fine-tuning did not help on images it never trained on" in log and kind == "GO/NG · pretrained"


@pytest.mark.slow
@needs_tf
@pytest.mark.parametrize("choice, kept", [("Stop, keep nothing", False), ("Stop and keep best model", True)])
def test_stop_mid_run_keeps_a_model_only_when_asked(qtbot, page, store, choice, kept):
    _fake_model(store, "old-model", "old")
    store.activate("old-model")
    active_before = (store.root / "active.json").read_text()
    page.options_form.epochs.setValue(300)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.plots.epochs_shown >= 1, timeout=RUN_MS)
    click_dialog_button(STOP_DIALOG, choice)
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_training(), timeout=RUN_MS)
    # The thread ends first; its last report (queued to the GUI thread) follows a moment later.
    qtbot.waitUntil(lambda: page.progress.stage_label.text().startswith("Stopped"), timeout=RUN_MS)
    assert page.plots.epochs_shown < 300
    new_models = [m for m in store.list() if m.id != "old-model"]
    assert len(new_models) == (1 if kept else 0)
    assert ("Nothing was saved" in page.progress.stage_label.text()) is not kept
    assert (store.root / "active.json").read_text() == active_before  # the active model is never touched
    if kept:
        assert new_models[0].metadata["training"]["stopped_by_user"] is True
        assert new_models[0].id in page.models.model_ids()
        qtbot.waitUntil(lambda: not page.is_busy(), timeout=RUN_MS)  # its comparison


@pytest.mark.slow
@needs_tf
def test_closing_during_a_run_asks_then_stops_without_saving(qtbot, page, store):
    page.options_form.epochs.setValue(300)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.plots.epochs_shown >= 1, timeout=RUN_MS)
    click_dialog_button(CLOSE_DIALOG, "No")
    assert page.confirm_close() is False and page.is_training()
    click_dialog_button(CLOSE_DIALOG, "Yes")
    assert page.confirm_close() is True
    assert page.shutdown(30_000) and not page.is_training()
    assert store.list() == [] and not list(store.root.glob(".saving-*"))


# ---- the model list ----------------------------------------------------------------------------------------
@pytest.mark.slow
@needs_tf
def test_importing_an_old_h5_adds_it_inactive_and_export_rewrites_tflite(qtbot, page, store, reference_h5,
                                                                           monkeypatch):
    monkeypatch.setattr(model_list_module.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(reference_h5), "")))
    with qtbot.waitSignal(page.models.models_changed, timeout=RUN_MS):
        qtbot.mouseClick(page.models.import_button, Qt.MouseButton.LeftButton)
    (info,) = store.list()
    assert info.name == "fan_model" and info.metadata["source"] == "imported"
    assert info.metadata["preprocessing"]["width"] == 80 and info.tflite_path.is_file()
    assert page.models.selected_id() == info.id and store.active() is None
    assert page.models.table.item(0, COLUMNS.index("Source")).text() == "imported"
    qtbot.mouseClick(page.models.activate_button, Qt.MouseButton.LeftButton)
    assert store.active_id() == info.id

    info.tflite_path.unlink()  # export it again from the Keras file
    page.models.refresh()
    assert page.models.table.item(0, COLUMNS.index("TFLite")).text() == "no"
    qtbot.mouseClick(page.models.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.models.table.item(0, COLUMNS.index("TFLite")).text() == "yes", timeout=RUN_MS)
    assert info.tflite_path.stat().st_size > 0 and "Wrote" in page.models.message.text()


def test_rename_activate_and_delete_from_the_list(qtbot, page, store, monkeypatch):
    _fake_model(store, "m-old", "January model")
    _fake_model(store, "m-new", "February model")
    store.activate("m-old")
    page.models.refresh()
    assert page.models.model_ids() == ["m-new", "m-old"]  # newest first
    table = page.models.table
    assert table.item(1, 0).text() == "● active" and table.item(1, COLUMNS.index("Val. accuracy")).text() == "90.0 %"
    assert table.item(0, COLUMNS.index("Trained on")).text() == "GO 19 / NG 19 (+10 for validation)"
    assert table.item(0, COLUMNS.index("Kind")).text() == "GO/NG · reference"

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Line 2, February", True)))
    page.models.select_model("m-new")
    qtbot.mouseClick(page.models.rename_button, Qt.MouseButton.LeftButton)
    assert store.get("m-new").name == "Line 2, February" and page.models.table.item(0, 1).text() == "Line 2, February"

    told = []
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda _p, _t, text, *a: told.append(text)))
    page.models.select_model("m-old")
    qtbot.mouseClick(page.models.delete_button, Qt.MouseButton.LeftButton)
    assert "is the active model" in told[0] and (store.root / "m-old").is_dir()
    assert "cannot be deleted" in page.models.message.text()

    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda _p, _t, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes))
    page.models.select_model("m-new")
    qtbot.mouseClick(page.models.delete_button, Qt.MouseButton.LeftButton)
    assert "Delete Line 2, February" in asked[0] and not (store.root / "m-new").exists()
    assert page.models.model_ids() == ["m-old"] and store.active_id() == "m-old"
