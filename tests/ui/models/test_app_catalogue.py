"""One source of truth for models in the whole window: a change made on one page, or by another program,
shows on every page without a restart."""
from __future__ import annotations

import json

from fanqc_gui.core.models.demo_model import DEMO_MODEL_ID, install_demo_model
from fanqc_gui.ui.models.model_list import COLUMNS


def _threshold_cell(parts, model_id: str) -> str:
    table = parts.training.models.table
    row = parts.training.models.model_ids().index(model_id)
    return table.item(row, COLUMNS.index("Threshold")).text()


def test_a_threshold_saved_anywhere_shows_on_every_page(app_parts, qtbot):
    install_demo_model(app_parts.store)
    app_parts.catalogue.notify_changed()
    assert DEMO_MODEL_ID in app_parts.training.models.model_ids()
    app_parts.catalogue.update_metadata(DEMO_MODEL_ID, threshold=0.4242)  # what Insight's Save does
    assert _threshold_cell(app_parts, DEMO_MODEL_ID).startswith("0.42")
    assert abs(app_parts.insight.model_info.threshold - 0.4242) < 1e-9


def test_a_change_by_another_program_reaches_the_window(app_parts, qtbot):
    info = install_demo_model(app_parts.store)
    app_parts.catalogue.notify_changed()
    meta = json.loads((info.folder / "metadata.json").read_text())
    meta["threshold"] = 0.1717
    (info.folder / "metadata.json").write_text(json.dumps(meta))  # e.g. `fanqc evaluate --save-threshold`
    qtbot.waitUntil(lambda: _threshold_cell(app_parts, DEMO_MODEL_ID).startswith("0.17"), timeout=5000)
