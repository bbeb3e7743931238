"""A station installed without TensorFlow (no `train` extra): the pages that need it say why in one line and
everything else works from model.tflite. TensorFlow is hidden here by patching the one availability check
every page asks; tests/test_lean_install.py checks the same with a real install without TensorFlow."""
from __future__ import annotations

import pytest

from fanqc_gui.core import tf_runtime
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.demo_model import install_demo_model
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.training.engine_process import EngineProcess


@pytest.fixture
def no_tensorflow(monkeypatch):
    monkeypatch.setattr(tf_runtime, "tensorflow_available", lambda: False)


@pytest.fixture
def demo_store(tmp_path):
    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    return store


def test_training_is_off_with_the_reason_and_no_engine_starts(qtbot, no_tensorflow, demo_workspace, demo_store):
    from fanqc_gui.ui.training.training_page import TrainingPage

    engine = EngineProcess()
    page = TrainingPage(open_workspace(demo_workspace), demo_store, engine=engine)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.dataset.report is not None)
    assert not page.start_button.isEnabled()
    assert "Training: not available, this installation has no TensorFlow" in page.start_reason.text()
    assert 'pip install "fanqc-gui[train]"' in page.start_button.toolTip()
    assert engine.pid is None  # the TensorFlow process was never started
    models = page.models
    assert not models.import_button.isEnabled() and "no TensorFlow" in models.import_button.toolTip()
    assert models.select_model(demo_store.active_id())
    assert not models.export_button.isEnabled()
    assert models.rename_button.isEnabled()  # managing models needs no TensorFlow
    assert page.shutdown(10_000)


def test_insight_predicts_from_tflite_and_explains_why_filters_are_off(qtbot, no_tensorflow, demo_workspace,
                                                                      demo_store):
    from fanqc_gui.ui.insight.insight_page import InsightPage

    page = InsightPage(open_workspace(demo_workspace), demo_store)
    qtbot.addWidget(page)
    page.resize(1440, 900)
    page.show()
    qtbot.waitUntil(lambda: page.predictions is not None and not page.is_busy(), timeout=30_000)
    rows = page.table.model.rows
    assert len(rows) == 56 and all(r.p_ng is not None for r in rows)  # every image judged (LiteRT)
    assert ("Filters, feature maps and Grad-CAM: not available, this installation has no TensorFlow"
            in page.filters.canvas.message)
    page.table.select_proxy_row(1)
    row = page.table.current_row()
    assert page.gradcam.insight is None and page.gradcam.p_ng_label.text() == f"{row.p_ng:.3f}"
    assert "no TensorFlow" in page.gradcam.image.placeholder()
    assert page.shutdown(10_000)
