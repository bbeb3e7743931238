"""Importing a model made by the reference script (seed_train.py): it must predict exactly as it did there.

The reference pipeline is Keras' ImageDataGenerator(rescale=1/255).flow_from_directory: PIL decoding, PIL
NEAREST resize to 80x80, labels from the alphabetical order of the folder names. PNG files are used so
that PIL and OpenCV decode identical pixels and the comparison can be tight.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fanqc_gui.cli import main
from fanqc_gui.core.models.export import import_h5
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]


def _as_png_dataset(template: Path, dest: Path, folders: dict[str, str], per_class: int = 10) -> Path:
    """Demo images re-saved as PNG under dest/<folder>; folders maps demo class -> folder name."""
    for cls, folder in folders.items():
        (dest / folder).mkdir(parents=True)
        for src in sorted((template / cls).glob("*.jpg"))[:per_class]:
            img = cv2.imdecode(np.fromfile(src, np.uint8), cv2.IMREAD_COLOR)
            cv2.imwrite(str(dest / folder / (src.stem + ".png")), img)
    return dest


def _reference_predictions(model, data_dir: Path) -> tuple[list[str], np.ndarray, dict]:
    """What the reference script's test generator gives: (file paths, sigmoid outputs, class_indices)."""
    from fanqc_gui.core.tf_runtime import import_tf

    tf = import_tf()
    gen = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255.0).flow_from_directory(
        str(data_dir), target_size=(80, 80), batch_size=32, class_mode="binary", shuffle=False)
    return gen.filepaths, model.predict(gen, verbose=0).reshape(-1), gen.class_indices


@pytest.fixture(scope="module")
def reference(tmp_path_factory, demo_workspace_template):
    """seed_train.py in miniature: its CNN trained for one epoch through ImageDataGenerator, saved as .h5."""
    from fanqc_gui.core.tf_runtime import import_tf

    tf = import_tf()
    from tensorflow.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from tensorflow.keras.models import Sequential

    base = tmp_path_factory.mktemp("reference")
    data = _as_png_dataset(demo_workspace_template, base / "data", {"GO": "GO", "NG": "NG"})
    tf.keras.utils.set_random_seed(0)
    gen = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255.0, validation_split=0.2)
    train_gen = gen.flow_from_directory(str(data), target_size=(80, 80), batch_size=32, class_mode="binary",
                                        subset="training")
    model = Sequential([
        tf.keras.Input(shape=(80, 80, 3)),
        Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D(2, 2),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D(2, 2),
        Flatten(),
        Dense(128, activation="relu"),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(train_gen, epochs=1, verbose=0)
    h5 = base / "fan_model.h5"
    model.save(h5)
    return base, data, h5, model


def _import_via_cli(h5: Path, store: Path, *extra: str) -> dict:
    """`fanqc import-model FILE.h5 --json`: its stdout must be exactly one JSON document."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["import-model", str(h5), "--json", "--quiet", "--models", str(store), *extra]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def imported(reference):
    base, _, h5, _ = reference
    out = _import_via_cli(h5, base / "models", "--activate", "--name", "old line 3 model")
    return out, ModelStore(base / "models")


def test_cli_import_reports_the_new_model_and_activates_it(reference, imported):
    out, store = imported
    assert set(out) >= {"model", "model_id", "active", "class_mapping", "preprocessing", "invert_output"}
    assert Path(out["model"]).parent == store.root and Path(out["model"]).is_dir()
    assert out["active"] is True and store.active_id() == out["model_id"]
    assert out["invert_output"] is False


@pytest.mark.parametrize("backend", ["litert", "keras"])
def test_imported_model_predicts_like_the_reference_pipeline(reference, imported, backend):
    _, data, _, model = reference
    out, store = imported
    files, expected, class_indices = _reference_predictions(model, data)
    assert class_indices == {"GO": 0, "NG": 1} and len(files) == 20
    predictor = Predictor(store.get(out["model_id"]), backend=backend)
    got = np.array([p.p_ng for p in predictor.predict_paths(files)])
    assert expected.std() > 1e-4, "the reference model must give varied scores for the test to mean anything"
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_ng_folder_sorting_first_inverts_the_output(reference, tmp_path, demo_workspace_template):
    """ok/ = GO, def/ = NG: the reference labels def = 0, ok = 1, so its sigmoid is P(GO)."""
    _, _, h5, model = reference
    data = _as_png_dataset(demo_workspace_template, tmp_path / "d", {"GO": "ok", "NG": "def"})
    files, p_ok, class_indices = _reference_predictions(model, data)
    assert class_indices == {"def": 0, "ok": 1}
    out = _import_via_cli(h5, tmp_path / "models", "--go-folder", "ok", "--ng-folder", "def")
    assert out["invert_output"] is True and out["class_mapping"]["folders"] == {"GO": "ok", "NG": "def"}
    info = ModelStore(tmp_path / "models").get(out["model_id"])
    got = np.array([p.p_ng for p in Predictor(info).predict_paths(files)])
    np.testing.assert_allclose(got, 1.0 - p_ok, rtol=0, atol=1e-4)


def test_imported_metadata_records_the_reference_preprocessing(reference, imported):
    _, _, h5, _ = reference
    out, store = imported
    info = store.get(out["model_id"])
    meta = info.metadata
    assert meta["source"] == "imported" and meta["name"] == "old line 3 model"
    assert meta["preprocessing"]["interpolation"] == "nearest_exact"
    assert (meta["preprocessing"]["width"], meta["preprocessing"]["height"]) == (80, 80)
    assert meta["input_size"] == [80, 80, 3] and meta["threshold"] == 0.5
    assert meta["class_mapping"]["folders"] == {"GO": "GO", "NG": "NG"}
    assert meta["imported_from"] == str(h5.resolve())
    assert {p.name for p in info.folder.iterdir()} == {"model.keras", "model.tflite", "metadata.json"}


def _save(model, path: Path) -> Path:
    model.save(path)
    return path


def test_models_that_are_not_a_binary_sigmoid_classifier_are_refused(tmp_path):
    import keras

    inputs = keras.Input((80, 80, 3))
    flat = keras.layers.Flatten()(keras.layers.MaxPooling2D(8)(inputs))
    softmax = _save(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(flat)), tmp_path / "two.h5")
    linear = _save(keras.Model(inputs, keras.layers.Dense(1)(flat)), tmp_path / "linear.h5")
    grey_in = keras.Input((80, 80, 1))
    grey = _save(keras.Model(grey_in, keras.layers.Dense(1, activation="sigmoid")(
        keras.layers.Flatten()(keras.layers.MaxPooling2D(8)(grey_in)))), tmp_path / "grey.h5")
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelStoreError, match="expected one sigmoid value"):
        import_h5(store, softmax)
    with pytest.raises(ModelStoreError, match="does not end in a sigmoid"):
        import_h5(store, linear)
    with pytest.raises(ModelStoreError, match=r"expected \(None, height, width, 3\)"):
        import_h5(store, grey)
    assert store.list() == []


def test_missing_or_garbage_h5_is_a_clear_error(tmp_path):
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelStoreError, match="model file not found"):
        import_h5(store, tmp_path / "nothing.h5")
    (tmp_path / "garbage.h5").write_bytes(b"this is not HDF5")
    with pytest.raises(ModelStoreError, match="cannot load garbage.h5 as a Keras model"):
        import_h5(store, tmp_path / "garbage.h5")
    assert store.list() == []
