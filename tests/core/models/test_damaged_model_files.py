"""A model.tflite damaged anywhere (a bad copy, a disk error) is one clear error when the station or a command
loads it, never a traceback; a file for another kind of model says so."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from station_helpers import trained_model

from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")


def test_bytes_damaged_anywhere_never_give_a_traceback(tmp_path_factory, demo_workspace_template, tmp_path):
    store_root, model_id = trained_model(tmp_path_factory, demo_workspace_template)
    good = (store_root / model_id / "model.tflite").read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(40):
        folder = tmp_path / f"m{trial}"
        shutil.copytree(store_root / model_id, folder)
        data = bytearray(good)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 64))):
            data[pos] = int(rng.integers(0, 256))
        if trial % 4 == 0:
            data = data[: int(rng.integers(8, len(data)))]  # cut short
        (folder / "model.tflite").write_bytes(bytes(data))
        try:
            predictor = Predictor(ModelStore(tmp_path).get(folder.name), backend="litert")
            predictor.p_ng_batch(np.zeros((1, *predictor._backend._shape), np.float32))
            outcomes["loaded"] += 1
        except ModelStoreError as exc:
            assert "cannot load" in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0


def test_a_tflite_of_another_kind_of_model_says_so(tmp_path_factory, demo_workspace_template, tmp_path):
    from fanqc_gui.core.tf_runtime import import_keras, import_tf

    keras, tf = import_keras(), import_tf()
    store_root, model_id = trained_model(tmp_path_factory, demo_workspace_template)
    shutil.copytree(store_root / model_id, tmp_path / "m")
    other = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    converter = tf.lite.TFLiteConverter.from_keras_model(other)
    (tmp_path / "m" / "model.tflite").write_bytes(converter.convert())
    with pytest.raises(ModelStoreError, match="not a FanQC image model"):
        Predictor(ModelStore(tmp_path).get("m"), backend="litert")
