"""Two savers finishing in the same second (two windows, two `fanqc train`) each keep their model."""
from __future__ import annotations

import os
import threading

import pytest

from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError


class _FakeKeras:
    """Stands in for a Keras model: the store only calls save(path)."""

    def __init__(self, tag: str):
        self.tag = tag

    def save(self, path):
        with open(path, "w") as fh:
            fh.write(self.tag)


def test_concurrent_saves_in_one_second_lose_no_model(tmp_path):
    store = ModelStore(tmp_path / "models")
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def save(i: int) -> None:
        start.wait()
        try:
            store.save(_FakeKeras(f"model {i}"), {"preprocessing": {}, "threshold": 0.5, "name": f"m{i}"}, b"tfl")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    infos = store.list()
    assert sorted(i.name for i in infos) == sorted(f"m{i}" for i in range(8))
    assert len({i.id for i in infos}) == 8
    for info in infos:  # each folder holds its own model, and its metadata names that folder
        assert info.metadata["id"] == info.id
        assert (info.folder / "model.keras").read_text() == f"model {info.name[1:]}"
    assert not [p for p in os.listdir(store.root) if p.startswith(".saving-")]


def test_an_explicit_id_that_is_taken_is_refused_and_changes_nothing(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.save(_FakeKeras("first"), {"preprocessing": {}, "threshold": 0.5}, None, model_id="fixed")
    with pytest.raises(ModelStoreError, match="already exists"):
        store.save(_FakeKeras("second"), {"preprocessing": {}, "threshold": 0.5}, None, model_id="fixed")
    assert (store.get("fixed").folder / "model.keras").read_text() == "first"
