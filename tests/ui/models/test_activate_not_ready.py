"""A model whose threshold check found it not ready for the station is marked so in the list, and the
station keeps its model unless the supervisor answers "Activate anyway" to a question that says why."""
from __future__ import annotations

import shutil

from ui_helpers import click_dialog_button

from fanqc_gui.core.models.demo_model import DEMO_MODEL_ID, install_demo_model
from fanqc_gui.core.models.threshold_choice import choose_threshold
from fanqc_gui.ui.models.model_list import COLUMNS


def _not_ready_copy(store) -> str:
    demo = install_demo_model(store)  # active
    shutil.copytree(demo.folder, store.root / "weak")
    labels = [0] * 30 + [1] * 30
    scores = [0.1] * 20 + [0.9] * 10 + [0.2] * 10 + [0.8] * 20  # catching every NG rejects a third of GO
    choice = choose_threshold(labels, scores)
    assert choice.ready is False
    store.update_metadata("weak", name="weak model", threshold=choice.threshold,
                          threshold_choice=choice.to_dict())
    return "weak"


def test_a_not_ready_model_is_marked_and_asks_before_it_is_activated(app_parts, qtbot):
    store, models = app_parts.store, app_parts.training.models
    weak = _not_ready_copy(store)
    app_parts.catalogue.notify_changed()
    row = models.model_ids().index(weak)
    cell = models.table.item(row, COLUMNS.index("Station"))
    assert cell.text() == "NOT READY" and "not ready for the station" in cell.toolTip()

    click_dialog_button("activateNotReady", "Cancel")
    assert models.activate(weak) is False
    assert store.active_id() == DEMO_MODEL_ID, "the station keeps its model"

    click_dialog_button("activateNotReady", "Activate anyway")
    assert models.activate(weak) is True
    assert store.active_id() == weak
