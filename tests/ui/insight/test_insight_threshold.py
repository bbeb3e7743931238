"""The threshold on the insight page as a supervisor uses it: typed into its box, saved to the model (asking
first when it is risky), shown by every page observing the model catalogue, reset when another workspace
opens, and readable in the dark theme.

Runs on the shipped demo model (LiteRT predictions, no training) with TensorFlow hidden, so the page never
loads Keras: these tests are about the threshold, not about filters or Grad-CAM.
"""
from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.demo_model import install_demo_model
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.workers.model_catalogue import ModelCatalogue

WAIT_MS = 30_000


@pytest.fixture
def no_tensorflow(monkeypatch):
    monkeypatch.setattr(tf_runtime, "tensorflow_available", lambda: False)


@pytest.fixture
def store(tmp_path):
    store = ModelStore(tmp_path / "models")
    info = install_demo_model(store)
    store.update_metadata(info.id, threshold=0.1404)
    return store


@pytest.fixture
def catalogue(store):
    return ModelCatalogue(store)


def build_page(qtbot, workspace, models):
    from fanqc_gui.ui.insight.insight_page import InsightPage

    page = InsightPage(open_workspace(workspace) if workspace else None, models)
    qtbot.addWidget(page)
    page.resize(1280, 660)
    page.show()
    if workspace:
        wait_for_predictions(qtbot, page)
    return page


def wait_for_predictions(qtbot, page):
    qtbot.waitUntil(lambda: page.predictions is not None and not page.is_busy(), timeout=WAIT_MS)


@pytest.fixture
def page(qtbot, no_tensorflow, demo_workspace, catalogue):
    page = build_page(qtbot, demo_workspace, catalogue)
    yield page
    assert page.shutdown(30_000)


class SaveQuestion(QObject):
    """Answers the "Save this threshold?" question with `button` whenever it opens; keeps what it said."""

    def __init__(self, button: str):
        super().__init__()
        self.button = button
        self.texts: list[str] = []
        self._timer = QTimer(self, interval=20)
        self._timer.timeout.connect(self._answer)
        self._timer.start()

    def _answer(self) -> None:
        box = QApplication.activeModalWidget()
        if box is None or box.objectName() != "saveThresholdDialog":
            return
        self.texts.append(box.text())
        for b in box.buttons():
            if b.text().replace("&", "") == self.button:
                b.click()
                return
        raise AssertionError(f"no button {self.button!r} in {[b.text() for b in box.buttons()]}")

    def stop(self) -> None:
        self._timer.stop()


@pytest.fixture
def question():
    made: list[SaveQuestion] = []

    def answer(button: str) -> SaveQuestion:
        made.append(SaveQuestion(button))
        return made[-1]

    yield answer
    for q in made:
        q.stop()


def type_into(qtbot, box, text: str) -> None:
    """Click into a spin box, select its number and type `text` key by key, as a user would (no Enter)."""
    editor = box.findChild(QLineEdit)
    QTest.mouseClick(editor, Qt.MouseButton.LeftButton)
    assert box.hasFocus() or editor.hasFocus()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, text)


def saved_threshold(store) -> float:
    return json.loads((store.active().folder / "metadata.json").read_text())["threshold"]


# ---- typing -------------------------------------------------------------------------------------------------
def test_a_typed_threshold_arrives_whole(qtbot, page):
    panel = page.threshold
    assert panel.spin.text() == "0.1404" and panel.threshold == 0.1404
    type_into(qtbot, panel.spin, "0.45")
    assert panel.spin.cleanText() == "0.45"  # every key kept: no "0.0000" after the first 0
    qtbot.keyClick(panel.spin.findChild(QLineEdit), Qt.Key.Key_Return)
    panel.flush()
    assert panel.threshold == 0.45 and panel.slider.value() == 4500
    assert panel.spin.text() == "0.4500"
    rows = page.table.model.rows
    assert all(page.table.model.index(i, 4).data() == rows[i].verdict(0.45) for i in range(len(rows)))


def test_a_typed_threshold_counts_when_save_is_clicked_without_enter(qtbot, page, store, question):
    answers = question("Save anyway")
    type_into(qtbot, page.threshold.spin, "0.5")
    QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
    assert saved_threshold(store) == 0.5
    assert answers.texts == []  # 48 labelled images, every one right at 0.5: nothing to ask


# ---- saving asks first when it is risky ---------------------------------------------------------------------
def test_saving_a_threshold_that_rejects_good_parts_asks_and_cancel_keeps_the_old_one(qtbot, page, store,
                                                                                     question):
    answers = question("Cancel")
    type_into(qtbot, page.threshold.spin, "0")
    qtbot.keyClick(page.threshold.spin.findChild(QLineEdit), Qt.Key.Key_Return)
    messages = []
    page.status_message.connect(messages.append)
    QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
    assert len(answers.texts) == 1
    assert "rejects 100.0 % of good parts (24 of 24)" in answers.texts[0]
    assert "judged on 48 labelled images of the workspace" in answers.texts[0]
    assert saved_threshold(store) == 0.1404 and page.model_info.threshold == 0.1404
    assert "not saved" in messages[-1]


def test_saving_anyway_writes_the_threshold(qtbot, page, store, question):
    answers = question("Save anyway")
    page.threshold.set_threshold(0.0)
    with qtbot.waitSignal(page.threshold_saved):
        QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
    assert len(answers.texts) == 1 and saved_threshold(store) == 0.0


def test_a_threshold_missing_the_models_ng_target_asks_with_the_numbers(qtbot, page, store, question):
    answers = question("Cancel")
    page.threshold.set_threshold(0.999)  # only the surest defects are NG
    caught = sum(r.p_ng >= 0.999 for r in page.table.model.rows if r.folder == "NG")
    assert caught < 24
    QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
    assert len(answers.texts) == 1
    assert (f"catches {100 * caught / 24:.1f} % of defects ({caught} of 24); the model's target is 99.5 %"
            in answers.texts[0])
    assert "good parts" not in answers.texts[0]  # no good part is rejected at 0.999
    assert saved_threshold(store) == 0.1404


def test_a_threshold_judged_on_a_few_images_asks(qtbot, no_tensorflow, tmp_path, demo_workspace, catalogue,
                                                 question):
    small = tmp_path / "small"
    shutil.copytree(demo_workspace, small)
    for folder, keep in (("GO", 4), ("NG", 2)):
        for p in sorted((small / folder).iterdir())[keep:]:
            p.unlink()
    page = build_page(qtbot, small, catalogue)
    try:
        answers = question("Cancel")
        page.threshold.set_threshold(0.5)
        QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
        assert len(answers.texts) == 1
        assert "judged on only 6 labelled image(s), 2 of them NG: too few to trust" in answers.texts[0]
        assert catalogue.active().threshold == 0.1404
    finally:
        assert page.shutdown(30_000)


# ---- one source of truth --------------------------------------------------------------------------------------
def test_a_saved_threshold_goes_through_the_catalogue_and_shows_everywhere(qtbot, no_tensorflow, page, catalogue,
                                                                          question):
    other = build_page(qtbot, None, catalogue)  # another observer of the same catalogue
    try:
        question("Save anyway")
        page.threshold.set_threshold(0.5)
        with qtbot.waitSignal(catalogue.changed):
            QTest.mouseClick(page.threshold.save_button, Qt.MouseButton.LeftButton)
        assert catalogue.active().threshold == 0.5
        assert other.model_info.threshold == 0.5  # no refresh call: it observes the catalogue
        assert catalogue.active().metadata["threshold_rule"]["target_ng_recall"] == 0.995
    finally:
        assert other.shutdown()


def test_the_chooser_follows_the_catalogue_and_keeps_the_choice(qtbot, page, store, catalogue, tmp_path):
    chosen = page.model_info.id
    copy = store.root / "second-model"
    shutil.copytree(store.active().folder, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta.update(id="second-model", name="Second model", created="2099-01-01T00:00:00+00:00")
    (copy / "metadata.json").write_text(json.dumps(meta))
    catalogue.notify_changed()
    assert page.models.count() == 2 and page.model_info.id == chosen
    catalogue.rename("second-model", "Line 2 model")
    assert "Line 2 model" in page.models.itemText(page.models.findData("second-model"))
    page.refresh_models(prefer="second-model")  # what the app does after training
    assert page.model_info.id == "second-model"


# ---- another workspace -----------------------------------------------------------------------------------------
def test_opening_another_workspace_resets_the_page(qtbot, page, tmp_path, demo_workspace):
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    good_only = tmp_path / "good-only"
    generate_demo_workspace(good_only, per_class=25, inbox=0, size=64, seed=5)
    shutil.rmtree(good_only / "NG")
    (good_only / "NG").mkdir()
    # on the first workspace: a confusion-matrix cell chosen, a name filter typed, the target changed
    QTest.mouseClick(page.threshold.matrix.buttons[("NG", "GO")], Qt.MouseButton.LeftButton)
    qtbot.keyClicks(page.table.search, "torn")
    page.threshold.target.setValue(90.0)
    assert page.table.cell_label.isVisible()

    page.set_workspace(open_workspace(good_only))
    assert not page.threshold.save_button.isEnabled()  # no predictions of this workspace yet
    wait_for_predictions(qtbot, page)
    assert page.table.count_label.text() == "Showing 25 of 25 images"
    assert not page.table.cell_label.isVisible() and page.threshold.matrix.chosen() is None
    assert page.table.search.text() == "" and page.table.filter_buttons["all"].isChecked()
    assert page.threshold.target.value() == 99.5
    assert "0.0 %" not in page.threshold.ng_recall.text() and "—" in page.threshold.ng_recall.text()
    assert "color" not in page.threshold.ng_recall.text()  # neutral, not red
    assert page.threshold.go_recall.text().startswith("<b>100.0 %</b> (25 of 25)")


def test_closing_the_workspace_leaves_nothing_of_it(qtbot, page):
    page.set_workspace(None)
    assert page.table.model.rowCount() == 0 and page.predictions is None
    assert not page.threshold.save_button.isEnabled()
    assert page.run_bar.progress.format() == "Open a workspace to see predictions."


# ---- dark theme ------------------------------------------------------------------------------------------------
def _centre_colour(widget):
    image = widget.grab().toImage()
    return image.pixelColor(6, image.height() // 2)


def test_cells_plot_and_banner_follow_the_dark_theme(qtbot, page):
    from fanqc_gui.ui import theme

    QTest.mouseClick(page.threshold.matrix.buttons[("GO", "NG")], Qt.MouseButton.LeftButton)  # banner shown
    app = QApplication.instance()
    try:
        theme.apply_theme(app, "dark")
        qtbot.wait(50)
        cells = page.threshold.matrix.buttons
        assert _centre_colour(cells[("GO", "GO")]) == theme.colour("goButton")
        assert _centre_colour(cells[("NG", "GO")]).lightness() < 80  # 0 defects missed: a dark empty cell
        plot = page.threshold.plot
        assert plot.backgroundBrush().color() == theme.colour("plotBackground")
        axis = plot.getPlotItem().getAxis("left")
        assert axis.textPen().color() == theme.colour("plotForeground")
        banner = page.table.cell_label
        assert _centre_colour(banner) == theme.colour("warnFill")
        assert theme.colour("warnText").name() in banner.styleSheet()
        theme.apply_theme(app, "light")
        qtbot.wait(50)
        assert _centre_colour(cells[("GO", "GO")]) == theme.colour("goButton")
        assert plot.backgroundBrush().color() == theme.colour("plotBackground")
    finally:
        theme.apply_theme(app, "light")


def test_a_model_validated_on_good_parts_alone_is_measured_on_the_workspaces_labelled_images(qtbot):
    """An anomaly model trained from GO only has no NG among its validation images: the panel opens on the
    workspace's labelled images, where a curve and a threshold can be read; with both classes it stays on
    the validation images."""
    from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
    from fanqc_gui.ui.insight.threshold_panel import ThresholdPanel

    panel = ThresholdPanel()
    qtbot.addWidget(panel)
    good_only = [ImagePrediction(f"/ws/GO/g{i}.png", "GO", 0.1 + i / 100, in_validation=True) for i in range(5)]
    sorted_later = [ImagePrediction(f"/ws/NG/n{i}.png", "NG", 0.8 - i / 100) for i in range(3)]
    panel.set_rows(good_only + sorted_later, 0.5)
    assert panel.scope == "workspace" and sorted(set(panel.labels.tolist())) == [0, 1]
    both = good_only + [ImagePrediction("/ws/NG/v.png", "NG", 0.9, in_validation=True)] + sorted_later
    panel.set_rows(both, 0.5)
    assert panel.scope == "validation" and len(panel.labels) == 6
