"""The insight page on an anomaly model (trained once from the demo workspace's GO images at 64x64): the heat map
is the model's anomaly map, not Grad-CAM, and the page says so; the table, the confusion matrix and the
threshold work on its anomaly scores, which are the station's."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.anomaly.heat_map import overlay
from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.ui.insight.prediction_table_model import P_NG

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def anomaly_store(tmp_path_factory, demo_workspace_template):
    from fanqc_gui.core.training.anomaly_training import train_anomaly

    base = tmp_path_factory.mktemp("insight-anomaly")
    shutil.copytree(demo_workspace_template, base / "ws")
    store = ModelStore(base / "models")
    result = train_anomaly(open_workspace(base / "ws"), store, AnomalyOptions(input_size="64x64"), name="goods",
                           use_disk_cache=False)
    store.activate(result.model.id)
    return store.root


@pytest.fixture
def page(qtbot, demo_workspace, anomaly_store, tmp_path):
    from fanqc_gui.ui.insight.insight_page import InsightPage

    shutil.copytree(anomaly_store, tmp_path / "models")
    page = InsightPage(open_workspace(demo_workspace), ModelStore(tmp_path / "models"))
    qtbot.addWidget(page)
    page.resize(1440, 900)
    page.show()
    qtbot.waitUntil(lambda: page.predictions is not None and not page.is_busy(), timeout=WAIT_MS)
    yield page
    assert page.shutdown(30_000)


def _show_row(qtbot, page, folder: str):
    """Choose the first image of folder in the table (as a click would) and wait for its picture."""
    row = next(r for r in page.table.model.rows if r.folder == folder)
    assert page.table.select_path(row.path)
    qtbot.waitUntil(lambda: page.gradcam.insight is not None and page.gradcam.insight.path == row.path,
                    timeout=WAIT_MS)
    return row


def test_the_heat_map_is_the_anomaly_map_and_the_page_says_so(qtbot, page):
    info = page.model_info
    assert info.metadata["kind"] == "anomaly"
    assert page.why_group.title() == "Where it differs (anomaly map)"
    assert page.table.model.headerData(P_NG, Qt.Orientation.Horizontal) == "Anomaly"
    assert "differs from the good parts" in page.table.model.headerData(P_NG, Qt.Orientation.Horizontal,
                                                                        Qt.ItemDataRole.ToolTipRole)
    assert "learns no filters" in page.filters.canvas.message

    row = _show_row(qtbot, page, "NG")
    insight = page.gradcam.insight
    assert insight.is_anomaly and insight.anomaly_map.shape == (8, 8)  # one cell per 8x8 px of the 64x64 input
    assert insight.p_ng == pytest.approx(row.p_ng, abs=1e-4)  # the map's score is the table's (the station's)
    assert page.gradcam.score_caption.text() == "Anomaly score"
    assert "Anomaly map" in page.gradcam.legend.text() and "not Grad-CAM" in page.gradcam.legend.text()
    assert page.gradcam.p_ng_label.text() == f"{row.p_ng:.3f}"
    drawn = page.gradcam.overlay_array()
    assert drawn.shape == insight.bgr.shape
    t = page.threshold.threshold
    np.testing.assert_array_equal(drawn, overlay(insight.bgr, insight.anomaly_map, t, alpha=0.45))

    # A lower threshold marks more of the part as different: the picture follows without recomputing.
    page.threshold.set_threshold(0.01)
    qtbot.waitUntil(lambda: page.gradcam.overlay_array() is not None
                    and not np.array_equal(page.gradcam.overlay_array(), drawn), timeout=WAIT_MS)
    assert page.gradcam.insight is insight
    assert "threshold 0.010" in page.gradcam.legend.text()


def test_table_matrix_and_threshold_work_on_the_anomaly_scores(qtbot, page):
    from fanqc_gui.core.models.inference import Predictor

    info = page.model_info
    rows = [r for r in page.table.model.rows if r.folder in ("GO", "NG")]
    engine = {p.path: p.p_ng for p in Predictor(info).predict_paths([r.path for r in rows])}
    assert all(r.p_ng == pytest.approx(engine[r.path], abs=1e-6) for r in rows)
    for t in (info.threshold, 0.2, 0.9):
        page.threshold.set_threshold(t)
        ng_caught = sum(1 for r in rows if r.folder == "NG" and engine[r.path] >= page.threshold.threshold)
        go_rejected = sum(1 for r in rows if r.folder == "GO" and engine[r.path] >= page.threshold.threshold)
        assert page.threshold.matrix.counts[("NG", "NG")] == ng_caught
        assert page.threshold.matrix.counts[("GO", "NG")] == go_rejected
    # The demo defects are visible: the anomaly scores rank NG above GO.
    ng = [engine[r.path] for r in rows if r.folder == "NG"]
    go = [engine[r.path] for r in rows if r.folder == "GO"]
    assert np.median(ng) > np.median(go)
