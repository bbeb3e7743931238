"""The anomaly model's network: EfficientNet-Lite0 (ImageNet weights, frozen) cut at three mid-level blocks,
each map averaged over 3x3 neighbours and brought to the finest tap's grid (1/8 of the input), concatenated:
one feature vector per patch. The scorer (layers.py) turns the patch features into the anomaly map and the
image score; network and scorer are ONE Keras model, exported to ONE model.tflite, so the station, the lean
install and the trainer's check all run the same operations.

Why these taps (measured on the MVTec screws, 200 good to fit, held-out good + 50 NG, PaDiM): blocks 4 and
10 (152 channels) 0.93 ROC AUC at 320 px; adding block 7 (232 channels, 152 of them kept) 0.955. The 1/8
grid keeps small defects: the same features on the 1/16 grid lost 0.2 AUC with PatchCore.
"""
from __future__ import annotations

from fanqc_gui.core.models.backbone.efficientnet_lite0 import (
    backbone_layers,
    block_output_name,
    blocks,
    set_pretrained_weights,
)
from fanqc_gui.core.models.backbone.weights import pretrained_weights
from fanqc_gui.core.tf_runtime import import_keras

TAP_BLOCKS = (4, 7, 10)
STRIDE = 8  # input pixels per patch (the grid of block 4)
LOCAL_POOL = 3  # each patch's features are averaged with its 3x3 neighbours
STEP = 32  # input sides must be multiples of this (the backbone halves the size five times)
FEATURE_LAYER = "patch_features"


def tap_channels() -> int:
    return sum(blocks()[i].channels_out for i in TAP_BLOCKS)


def grid_size(width: int, height: int) -> tuple[int, int]:
    """(columns, rows) of the patch grid for an input of width x height."""
    return width // STRIDE, height // STRIDE


def patch_features(inputs):
    """Apply the backbone to inputs (float RGB in [0, 1], NHWC) -> patch features (N, H/8, W/8, tap_channels())."""
    keras = import_keras()
    L = keras.layers
    out = backbone_layers(inputs)
    maps = []
    for i in TAP_BLOCKS:
        x = L.AveragePooling2D(LOCAL_POOL, strides=1, padding="same", name=f"block{i}_local_mean")(
            out[block_output_name(i)])
        factor = int(inputs.shape[1]) // STRIDE // int(x.shape[1])
        if factor > 1:
            x = L.UpSampling2D(factor, interpolation="bilinear", name=f"block{i}_to_grid")(x)
        maps.append(x)
    return L.Concatenate(name=FEATURE_LAYER)(maps)


def build_feature_model(height: int, width: int, weights: dict | None = None):
    """image -> patch features, with the ImageNet weights. Sides must be multiples of STEP."""
    if height % STEP or width % STEP:
        raise ValueError(f"input {width}x{height}: each side must be a multiple of {STEP}")
    keras = import_keras()
    inputs = keras.Input((height, width, 3), name="image")
    model = keras.Model(inputs, patch_features(inputs), name="efficientnet_lite0_patches")
    set_pretrained_weights(model, weights if weights is not None else pretrained_weights())
    return model
