"""The Training page's choice of what to train, driven like a supervisor would: "Classify GO/NG" with its preset,
or "Find anomalies (GO only)" (PaDiM / PatchCore), suggested on a workspace without NG images; a real anomaly run
through the engine process on the small generated demo parts (24 GO at a 64x64 input: seconds)."""
from __future__ import annotations

import shutil

import pytest
from engine_helpers import shared_engine
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training.trainer import TrainOptions
from fanqc_gui.ui.models.model_list import COLUMNS
from fanqc_gui.ui.training.training_page import TrainingPage

RUN_MS = 120_000


def _page(qtbot, root, store) -> TrainingPage:
    page = TrainingPage(open_workspace(root), store, engine=shared_engine())
    qtbot.addWidget(page)
    page.resize(1440, 900)
    page.show()
    qtbot.waitUntil(lambda: page.dataset.report is not None)
    return page


def _shown(form, widget) -> bool:
    return widget.isVisibleTo(form)


@pytest.fixture
def go_only(demo_workspace):
    """The demo workspace with its defects gone: 24 GO images, no NG."""
    shutil.rmtree(demo_workspace / "NG")
    (demo_workspace / "NG").mkdir()
    return demo_workspace


def test_the_mode_and_the_preset_choose_what_start_trains_and_show_only_their_options(qtbot, demo_workspace,
                                                                                        tmp_path):
    page = _page(qtbot, demo_workspace, ModelStore(tmp_path / "models"))
    try:
        form = page.options_form
        assert form.classify_radio.isChecked() and form.classify_radio.text() == "Classify GO/NG"
        assert isinstance(form.run_options(), TrainOptions) and form.run_options().preset == "pretrained"
        form.preset.setCurrentIndex(form.preset.findData("reference"))
        assert form.run_options().preset == "reference"
        assert _shown(form, form.epochs) and _shown(form, form.image_size) and not _shown(form, form.method)
        assert not _shown(form, form.input_size)  # the reference CNN takes a square image size
        assert not _shown(form, form.fine_tune)  # the reference network trains all its layers anyway
        assert page.architecture.table.isVisibleTo(page.architecture)

        form.preset.setCurrentIndex(form.preset.findData("pretrained"))
        assert form.run_options().preset == "pretrained"
        assert _shown(form, form.input_size) and _shown(form, form.folds) and not _shown(form, form.epochs)
        assert _shown(form, form.fine_tune) and not form.fine_tune.isChecked() and not form.run_options().fine_tune
        QTest.mouseClick(form.fine_tune, Qt.MouseButton.LeftButton)
        assert form.run_options().fine_tune and "minutes" in form.fine_tune.toolTip()
        QTest.mouseClick(form.fine_tune, Qt.MouseButton.LeftButton)
        assert not page.architecture.table.isVisibleTo(page.architecture)
        assert "ImageNet" in page.architecture.other_label.text()
        QTest.keyClicks(form.input_size, "12x7")  # not a multiple of 32: Start says why
        assert not page.start_button.isEnabled() and "multiple of 32" in page.start_reason.text()
        form.input_size.clear()
        assert page.start_button.isEnabled()

        QTest.mouseClick(form.anomaly_radio, Qt.MouseButton.LeftButton)
        assert form.anomaly_radio.text() == "Find anomalies (GO only)"
        options = form.run_options()
        assert isinstance(options, AnomalyOptions) and options.method == "padim"
        assert _shown(form, form.method) and not _shown(form, form.preset) and not _shown(form, form.epochs)
        assert not _shown(form, form.max_bank)  # PatchCore's alone
        form.method.setCurrentIndex(form.method.findData("patchcore"))
        assert form.run_options().method == "patchcore" and _shown(form, form.max_bank)
        form.max_bank.setValue(1024)
        assert form.run_options().max_bank == 1024
        assert "no epochs" in page.architecture.other_label.text()
        assert "NG images, if any, are never learned from" in page.dataset.counts_label.text()
        assert page.start_button.isEnabled()

        QTest.mouseClick(form.classify_radio, Qt.MouseButton.LeftButton)
        assert form.run_options().preset == "pretrained"  # the classifier's choices were kept
    finally:
        page.shutdown()


def test_the_threshold_rule_is_chosen_in_the_form_for_both_modes(qtbot, demo_workspace, tmp_path):
    page = _page(qtbot, demo_workspace, ModelStore(tmp_path / "models"))
    try:
        form = page.options_form
        assert form.target_recall.value() == 99.5 and form.max_reject.value() == 5.0  # the engine's defaults
        form.target_recall.setValue(97.0)
        form.max_reject.setValue(2.5)
        assert _shown(form, form.target_recall) and _shown(form, form.max_reject)
        options = form.run_options()
        assert (options.target_ng_recall, options.max_false_reject) == (pytest.approx(0.97), pytest.approx(0.025))
        QTest.mouseClick(form.anomaly_radio, Qt.MouseButton.LeftButton)
        assert _shown(form, form.target_recall) and _shown(form, form.max_reject)
        anomaly = form.run_options()
        assert (anomaly.target_ng_recall, anomaly.max_false_reject) == (pytest.approx(0.97), pytest.approx(0.025))
        form.defaults_button.click()
        assert form.target_recall.value() == 99.5 and form.max_reject.value() == 5.0
    finally:
        page.shutdown()


def test_a_workspace_without_defects_suggests_finding_anomalies(qtbot, go_only, tmp_path):
    page = _page(qtbot, go_only, ModelStore(tmp_path / "models"))
    try:
        assert not page.start_button.isEnabled()  # a classifier cannot train without NG...
        assert "class NG has 0 usable image(s)" in page.start_reason.text()
        dataset = page.dataset
        assert dataset.anomaly_button.isVisibleTo(dataset)  # ...but an anomaly model can
        assert "Find anomalies (GO only)" in dataset.suggestion_label.text()
        assert "24 GO and 0 NG" in dataset.suggestion_label.text()

        QTest.mouseClick(dataset.anomaly_button, Qt.MouseButton.LeftButton)
        assert page.options_form.anomaly_radio.isChecked()
        assert page.start_button.isEnabled(), page.start_reason.text()
        assert not dataset.anomaly_button.isVisibleTo(dataset)
    finally:
        page.shutdown()


def test_too_few_good_parts_for_anomalies_is_said_before_start(qtbot, go_only, tmp_path):
    for extra in sorted((go_only / "GO").iterdir())[5:]:
        extra.unlink()
    page = _page(qtbot, go_only, ModelStore(tmp_path / "models"))
    try:
        assert not page.dataset.anomaly_button.isVisibleTo(page.dataset)  # 5 GO: neither mode can train
        page.options_form.set_mode("anomaly")
        assert not page.start_button.isEnabled()
        assert "only 5 usable GO image(s)" in page.start_reason.text() and "at least 10" in page.start_reason.text()
    finally:
        page.shutdown()


@pytest.mark.slow
@pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")
def test_find_anomalies_trains_a_model_from_good_parts_that_the_list_shows_with_its_kind(qtbot, go_only,
                                                                                          tmp_path):
    store = ModelStore(tmp_path / "models")
    page = _page(qtbot, go_only, store)
    weights = []
    page.first_layer_weights_ready.connect(weights.append)
    try:
        QTest.mouseClick(page.dataset.anomaly_button, Qt.MouseButton.LeftButton)
        form = page.options_form
        QTest.keyClicks(form.input_size, "64x64")
        QTest.keyClicks(form.name, "good parts only")
        QTest.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
        assert page.is_training()
        assert page.plots.no_curves.isVisibleTo(page.plots)  # no epochs: said instead of empty axes
        assert not page.plots.loss_widget.isVisibleTo(page.plots)
        assert "find anomalies with PaDiM" in page.progress.log.toPlainText()
        qtbot.waitUntil(lambda: not page.is_busy(), timeout=RUN_MS)

        assert page.progress.stage_label.text().startswith("Finished in"), page.progress.stage_label.text()
        assert "anomaly model saved as 'good parts only'" in page.progress.stage_label.text()
        (info,) = store.list()
        assert info.metadata["kind"] == "anomaly" and info.metadata["method"] == "padim"
        assert info.preprocess_spec.width == 64 and info.preprocess_spec.height == 64
        table = page.models.table
        assert page.models.model_ids() == [info.id]
        assert table.item(0, COLUMNS.index("Kind")).text() == "anomaly (GO only) · PaDiM"
        assert "good parts only" in table.item(0, COLUMNS.index("Kind")).toolTip()
        # No NG images: the threshold comes from good parts alone and cannot be checked on defects.
        assert table.item(0, COLUMNS.index("Station")).text() == "NOT READY"
        log = page.progress.log.toPlainText()
        assert f"Threshold {info.threshold:.3f}: " in log and "not ready" in log
        qtbot.waitUntil(lambda: page.comparison.comparison is not None, timeout=RUN_MS)
        assert page.comparison.comparison.new.model_id == info.id
        assert "not ready for the station" in page.comparison.summary.text()
        assert page.comparison.activate_button.isEnabled()
        assert weights == []  # no learned filters reach Insight's live view
    finally:
        page.shutdown()
