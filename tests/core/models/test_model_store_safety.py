"""The store is read through one validated reading of metadata: a damaged model is listed as damaged with
its reason and never takes the listing down; only its own folders are ever changed; links are not models."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from fanqc_gui.cli import main
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError


class _Keras:
    def save(self, path):
        open(path, "w").close()


def _store(tmp_path, *names) -> ModelStore:
    store = ModelStore(tmp_path / "models")
    for name in names:
        store.save(_Keras(), {"preprocessing": {"width": 32, "height": 32}, "threshold": 0.5, "name": name},
                   b"tflite", model_id=name)
    return store


@pytest.mark.parametrize("field, value, words", [
    ("created", 20260101, "'created' must be text"),
    ("validation", [1, 2], "'validation' must be an object"),
    ("preprocessing", None, "'preprocessing' must be an object"),
    ("threshold", float("nan"), "finite"),
    ("threshold", 7, "between 0 and 1"),
    ("threshold", "0.5", "must be a number"),
    ("preprocessing", {"width": "wide", "height": 32}, "'preprocessing' is invalid"),
])
def test_a_wrongly_typed_field_marks_one_model_damaged_not_the_store(tmp_path, capsys, field, value, words):
    store = _store(tmp_path, "good", "bad")
    path = store.root / "bad" / "metadata.json"
    meta = json.loads(path.read_text())
    meta[field] = value
    path.write_text(json.dumps(meta))  # NaN is written as NaN, which Python's json reads back
    assert [i.id for i in store.list()] == ["good"]
    assert store.damaged()[0][0] == "bad" and words in store.damaged()[0][1]
    with pytest.raises(ModelStoreError, match="bad"):
        store.activate("bad")
    assert main(["models", "--models", str(store.root), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in listing["models"]] == ["good"] and listing["damaged"][0]["folder"] == "bad"


def test_a_nan_threshold_cannot_be_saved_into_a_model(tmp_path):
    store = _store(tmp_path, "m")
    with pytest.raises(ModelStoreError, match="finite"):
        store.update_metadata("m", threshold=float("nan"))
    assert store.get("m").threshold == 0.5


def test_rename_never_writes_outside_the_store(tmp_path, capsys):
    store = _store(tmp_path, "m")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(store.root / "m", elsewhere)
    before = (elsewhere / "metadata.json").read_bytes()
    assert main(["models", "rename", str(elsewhere), "hijacked", "--models", str(store.root)]) == 2
    assert "not in the model store" in capsys.readouterr().err
    assert (elsewhere / "metadata.json").read_bytes() == before


def test_a_link_in_the_store_cannot_be_used_to_delete_the_active_model(tmp_path):
    store = _store(tmp_path, "real", "other")
    os.symlink("real", store.root / "current")
    with pytest.raises(ModelStoreError, match="link"):
        store.activate("current")
    store.activate("real")
    with pytest.raises(ModelStoreError, match="active"):
        store.delete("real")
    with pytest.raises(ModelStoreError, match="link"):
        store.delete("current")
    assert (store.root / "real" / "metadata.json").is_file()
    assert [i.id for i in store.list()] == ["other", "real"] or {i.id for i in store.list()} == {"other", "real"}
    assert ("current", "a link, not a model folder; FanQC uses only folders stored here") in store.damaged()


def test_leftovers_of_killed_saves_are_cleaned_by_the_next_save(tmp_path):
    store = _store(tmp_path, "m")
    dead = store.root / ".saving-20260101-000000-999999999"  # no such process
    dead.mkdir()
    (dead / "model.keras").write_bytes(b"half")
    live = store.root / f".saving-x-{os.getppid()}"  # a running process: left alone
    live.mkdir()
    _store(tmp_path, "n")
    assert not dead.exists() and live.exists()
