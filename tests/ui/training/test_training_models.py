"""The training page's model list observes the model catalogue: a threshold saved in Insight or by another
program, a rename or an activation made anywhere show in the list at once, without a restart."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.ui.models.model_list import COLUMNS, ModelList
from fanqc_gui.ui.training.training_page import TrainingPage
from fanqc_gui.workers.model_catalogue import ModelCatalogue
from fanqc_gui.workers.model_jobs import ModelJobs

THRESHOLD_COLUMN = COLUMNS.index("Threshold")


class IdleEngine:
    """The page's engine, never asked to run here (no TensorFlow process is started)."""
    pid = None

    def start(self) -> None:
        pass

    def new_job_id(self) -> int:
        return 1

    def request_stop(self, *_args, **_kwargs) -> None:
        pass

    def close(self, *_args, **_kwargs) -> bool:
        return True


def _write_model(store: ModelStore, model_id: str, name: str, day: int) -> None:
    folder = store.root / model_id
    folder.mkdir(parents=True)
    meta = {"name": name, "created": f"2026-01-0{day}T08:00:00+01:00", "threshold": 0.4,
            "preprocessing": {"width": 32, "height": 32}, "validation": {"accuracy": 0.9, "ng_recall": 1.0}}
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.fixture
def store(tmp_path):
    store = ModelStore(tmp_path / "models")
    _write_model(store, "m-old", "January model", 1)
    _write_model(store, "m-new", "February model", 2)
    store.activate("m-old")
    return store


@pytest.fixture
def catalogue(store):
    return ModelCatalogue(store)


@pytest.fixture
def page(qtbot, demo_workspace, catalogue):
    page = TrainingPage(open_workspace(demo_workspace), catalogue, engine=IdleEngine())
    qtbot.addWidget(page)
    page.show()
    yield page
    assert page.shutdown(10_000)


def _cell(model_list: ModelList, model_id: str, column: int) -> str:
    row = model_list.model_ids().index(model_id)
    return model_list.table.item(row, column).text()


def test_a_threshold_saved_through_the_catalogue_shows_at_once(page, catalogue):
    assert _cell(page.models, "m-old", THRESHOLD_COLUMN) == "0.400"
    catalogue.update_metadata("m-old", threshold=0.1404)  # as the Insight page saves it
    assert _cell(page.models, "m-old", THRESHOLD_COLUMN) == "0.140"


def test_a_threshold_written_by_another_program_shows_when_the_catalogue_notices(qtbot, page, store):
    ModelStore(store.root).update_metadata("m-old", threshold=0.25)  # e.g. `fanqc models` in a terminal
    qtbot.waitUntil(lambda: _cell(page.models, "m-old", THRESHOLD_COLUMN) == "0.250", timeout=5000)


def test_a_page_given_a_plain_store_still_follows_its_changes(qtbot, demo_workspace, store):
    page = TrainingPage(open_workspace(demo_workspace), store, engine=IdleEngine())
    qtbot.addWidget(page)
    try:
        page.catalogue.update_metadata("m-new", threshold=0.6)
        assert _cell(page.models, "m-new", THRESHOLD_COLUMN) == "0.600"
    finally:
        page.shutdown(10_000)


def test_rename_and_activate_in_the_list_show_on_every_page_sharing_the_catalogue(qtbot, page, catalogue,
                                                                                  monkeypatch):
    jobs = ModelJobs(IdleEngine(), catalogue.store)
    elsewhere = ModelList(catalogue, jobs)  # another page's view of the same models
    qtbot.addWidget(elsewhere)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Line 2, February", True)))
    page.models.select_model("m-new")
    qtbot.mouseClick(page.models.rename_button, Qt.MouseButton.LeftButton)
    assert _cell(elsewhere, "m-new", 1) == "Line 2, February"
    qtbot.mouseClick(page.models.activate_button, Qt.MouseButton.LeftButton)
    assert catalogue.active_id() == "m-new"
    assert _cell(elsewhere, "m-new", 0) == "● active" and _cell(elsewhere, "m-old", 0) == ""
    catalogue.activate("m-old")  # and the other way round: activated on another page
    assert _cell(page.models, "m-old", 0) == "● active" and page.models.activate_button.isEnabled()
    jobs.shutdown()
