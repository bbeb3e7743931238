"""The model store: what a saved model folder holds, atomic saves, list/activate/delete, damaged models."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fanqc_gui import __version__
from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.models import model_store
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.core.tf_runtime import tensorflow_available

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    """(workspace root, folder of a model trained on it with GO = folder 100, NG = folder 60)."""
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.training.trainer import TrainOptions, train

    base = tmp_path_factory.mktemp("store")
    ws = base / "ws"
    shutil.copytree(demo_workspace_template, ws)
    (ws / "GO").rename(ws / "100")
    (ws / "NG").rename(ws / "60")
    result = train(open_workspace(ws, go_folder="100", ng_folder="60"), ModelStore(base / "models"),
                   TrainOptions(preset="reference", image_size=32, epochs=2, seed=4), name="line 3")
    return ws, result.model.folder


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path, trained):
    """A store holding two copies of the trained model: 'model-a' and 'model-b'."""
    s = ModelStore(tmp_path / "models")
    for model_id, created in (("model-a", "2025-01-01T10:00:00+00:00"), ("model-b", "2025-01-02T10:00:00+00:00")):
        shutil.copytree(trained[1], s.root / model_id)
        meta_file = s.root / model_id / "metadata.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta_file.write_text(json.dumps({**meta, "id": model_id, "created": created}), encoding="utf-8")
    return s


@pytest.mark.slow
def test_saved_model_folder_holds_everything_needed_to_reproduce_it(trained):
    ws, folder = trained
    assert {p.name for p in folder.iterdir()} == {"model.keras", "model.tflite", "model.fast.tflite", "metadata.json"}
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    fast = meta["fast_tflite"]  # the station's int8 model, with its proof on every validation image
    assert fast["validation_images"] == meta["validation"]["images"] and fast["max_abs_diff"] < 0.02
    assert meta["schema"] == model_store.METADATA_SCHEMA and meta["id"] == folder.name
    assert meta["name"] == "line 3" and meta["source"] == "trained"
    assert meta["class_mapping"]["folders"] == {"GO": "100", "NG": "60"}
    assert meta["class_mapping"]["labels"] == {"GO": 0, "NG": 1} and meta["class_mapping"]["output"] == "P(NG)"
    assert meta["preprocessing"] == {"width": 32, "height": 32, "interpolation": "area", "scale": "1/255",
                                     "channels": "RGB"}
    assert meta["input_size"] == [32, 32, 3]
    assert 0 <= meta["threshold"] <= 0.5  # two epochs on 38 images: its value is luck (the rule: test_evaluation)
    assert meta["training"]["epochs"] == 2 and meta["training"]["seed"] == 4
    assert meta["training"]["learning_rate"] == 2e-3 and meta["training"]["batch_size"] == 32  # the defaults
    assert meta["training"]["hard_example_fraction"] == 0.5
    assert len(meta["dataset"]["fingerprint"]) == 24
    assert meta["dataset"]["counts"] == {"train": {"GO": 19, "NG": 19}, "val": {"GO": 5, "NG": 5}}
    assert meta["dataset"]["root"] == str(ws.resolve())
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert set(meta["history"][0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert meta["validation"]["images"] == 10 and sum(map(sum, meta["validation"]["confusion_matrix"])) == 10
    assert meta["created"][:2] == "20" and "T" in meta["created"]
    assert meta["app_version"] == __version__
    import keras
    import tensorflow as tf

    assert meta["tensorflow_version"] == tf.__version__ and meta["keras_version"] == keras.__version__


@pytest.mark.slow
def test_model_info_reads_back_mapping_spec_and_threshold(store):
    info = store.get("model-a")
    assert info.mapping == ClassMapping(go_folder="100", ng_folder="60")
    assert (info.preprocess_spec.width, info.preprocess_spec.height) == (32, 32)
    assert info.threshold == info.metadata["threshold"]
    summary = info.summary()
    assert summary["has_tflite"] and summary["name"] == "line 3" and summary["id"] == "model-a"


@pytest.mark.slow
def test_list_get_activate_and_delete(store):
    assert [m.id for m in store.list()] == ["model-a", "model-b"]  # oldest first
    assert store.active() is None
    store.activate("model-b")
    assert store.active_id() == "model-b"
    assert ModelStore(store.root).active_id() == "model-b", "the active mark is persisted"
    assert store.get(store.root / "model-a").id == "model-a"  # by folder as well as by id
    store.delete("model-a")
    assert [m.id for m in store.list()] == ["model-b"]
    assert not (store.root / "model-a").exists() and not list(store.root.glob(".deleting-*"))


@pytest.mark.slow
def test_deleting_the_active_model_is_refused(store):
    store.activate("model-a")
    before = _snapshot(store.root)
    with pytest.raises(ModelStoreError, match="model-a is the active model"):
        store.delete("model-a")
    assert _snapshot(store.root) == before


@pytest.mark.slow
def test_delete_by_id_means_the_stored_model_and_never_a_folder_elsewhere(store, tmp_path, monkeypatch):
    outside = tmp_path / "backup" / "model-b"
    shutil.copytree(store.root / "model-b", outside)
    monkeypatch.chdir(outside.parent)  # a same-named model folder in the current directory
    assert store.get("model-b").folder == (store.root / "model-b").resolve()
    with pytest.raises(ModelStoreError, match="not in the model store"):
        store.delete(outside)
    assert (outside / "metadata.json").is_file()
    store.delete("model-b")
    assert not (store.root / "model-b").exists() and (outside / "metadata.json").is_file()


@pytest.mark.slow
def test_unknown_model_and_h5_file_get_clear_messages(store, tmp_path):
    with pytest.raises(ModelStoreError, match="no model 'nope'.*fanqc models"):
        store.get("nope")
    h5 = tmp_path / "fan_model.h5"
    h5.write_bytes(b"x")
    with pytest.raises(ModelStoreError, match="import-model"):
        store.get(h5)


@pytest.mark.slow
def test_rename_updates_the_name_only(store):
    before = store.get("model-a").metadata
    store.update_metadata("model-a", name="night shift")
    after = ModelStore(store.root).get("model-a").metadata
    assert after == {**before, "name": "night shift"}


@pytest.mark.slow
@pytest.mark.parametrize("content, message", [
    ("{this is not json", "cannot read .*metadata.json"),
    ('["a list"]', "not FanQC model metadata"),
    ('{"name": "x"}', "not FanQC model metadata"),
    ('{"schema": 99, "preprocessing": {}}', "newer FanQC"),
])
def test_damaged_metadata_is_a_clear_error_and_skipped_in_listings(store, content, message):
    (store.root / "model-a" / "metadata.json").write_text(content, encoding="utf-8")
    with pytest.raises(ModelStoreError, match=message):
        store.get("model-a")
    assert [m.id for m in store.list()] == ["model-b"]


@needs_tf
@pytest.mark.slow
@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not really a zip", b"\x00" * 1000])
def test_damaged_keras_file_is_a_clear_error(store, damage):
    info = store.get("model-a")
    info.keras_path.write_bytes(damage)
    with pytest.raises(ModelStoreError, match=r"cannot load .*model\.keras"):
        store.load_keras(info)


@needs_tf
@pytest.mark.slow
def test_missing_keras_file_is_a_clear_error(store):
    info = store.get("model-a")
    info.keras_path.unlink()
    with pytest.raises(ModelStoreError, match="has no model.keras"):
        store.load_keras(info)


@needs_tf
@pytest.mark.slow
def test_keras_file_with_a_lambda_layer_is_refused(store):
    """Safe mode: a .keras file must not be able to run arbitrary Python when loaded."""
    import keras

    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(1, activation="sigmoid")(
        keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2.0)(inputs)))
    info = store.get("model-a")
    keras.Model(inputs, outputs).save(info.keras_path)
    with pytest.raises(ModelStoreError, match="cannot load.*Lambda"):
        store.load_keras(info)


@needs_tf
@pytest.mark.slow
def test_loaded_keras_model_predicts_like_the_saved_one(store):
    model = store.load_keras(store.get("model-a"))
    x = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    again = store.load_keras(store.get("model-b"))
    np.testing.assert_array_equal(model(x).numpy(), again(x).numpy())


@needs_tf
@pytest.mark.slow
@pytest.mark.parametrize("fail_in", ["write_bytes_atomic", "write_json_atomic"])
def test_failed_save_leaves_no_trace_and_touches_no_other_model(store, monkeypatch, fail_in):
    model = store.load_keras(store.get("model-a"))
    store.activate("model-a")
    before = _snapshot(store.root)
    real = getattr(model_store, fail_in)

    def fail_after_keras_file(path, *args):
        tmp_folder = Path(path).parent
        assert (tmp_folder / "model.keras").is_file(), "model.keras is written first"
        real(path, *args)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_store, fail_in, fail_after_keras_file)
    with pytest.raises(OSError, match="No space left"):
        store.save(model, {"preprocessing": {"width": 32, "height": 32}}, b"tflite bytes", model_id="new-model")
    assert sorted(p.name for p in store.root.iterdir()) == ["active.json", "model-a", "model-b"]
    assert _snapshot(store.root) == before
    assert store.active_id() == "model-a"


@needs_tf
@pytest.mark.slow
def test_failed_training_save_is_reported_as_training_error(store, monkeypatch):
    from fanqc_gui.core.training.trainer import TrainingError, save_trained

    model = store.load_keras(store.get("model-a"))
    before = _snapshot(store.root)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_store, "write_json_atomic", disk_full)
    with pytest.raises(TrainingError, match="cannot save the model.*nothing was changed"):
        save_trained(store, model, {"preprocessing": {"width": 32, "height": 32}})
    assert _snapshot(store.root) == before


@needs_tf
@pytest.mark.slow
def test_two_saves_in_the_same_second_get_different_folders(store):
    model = store.load_keras(store.get("model-a"))
    meta = {"preprocessing": {"width": 32, "height": 32}}
    first, second = store.save(model, meta, None), store.save(model, meta, None)
    assert first.id != second.id and first.folder.is_dir() and second.folder.is_dir()
    assert not second.tflite_path.exists() and not second.summary()["has_tflite"]
