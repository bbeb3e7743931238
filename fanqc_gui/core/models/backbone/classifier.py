"""The pretrained preset's network: EfficientNet-Lite0 up to the end of stage 6, the outputs of two blocks
pooled, and one sigmoid unit on top. One functional Keras model, image -> P(NG), standard layers only (it
loads in safe mode and converts to TFLite like the reference network).

Why these features: a defect of a few pixels changes a few positions of a mid-level feature map; the global
average of that map dilutes it among hundreds of positions, the global maximum keeps it. So each tapped
block's map is pooled both ways. The taps are the last block of stage 5 (112 channels at 1/16 of the input:
parts and textures at the scale of small defects) and of stage 6 (192 channels at 1/32: larger shapes).
The 1280-channel head, tuned to ImageNet's object classes, is left out: on the screw photos its pooled
features separated GO from NG markedly worse (ROC AUC 0.91 vs 0.98 with the same head and augmentation).
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.models.backbone.efficientnet_lite0 import (
    backbone_layers,
    block_output_name,
    blocks,
    set_pretrained_weights,
)
from fanqc_gui.core.models.backbone.weights import pretrained_weights
from fanqc_gui.core.tf_runtime import import_keras

TAP_BLOCKS = (10, 14)
FEATURE_LAYER = "features"
OUTPUT_LAYER = "p_ng"


def feature_dim() -> int:
    return sum(2 * blocks()[i].channels_out for i in TAP_BLOCKS)


def build_feature_model(height: int, width: int, weights: dict | None = None):
    """image (float RGB in [0, 1]) -> the pooled features (feature_dim(),), with the ImageNet weights."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input((height, width, 3), name="image")
    out = backbone_layers(inputs)
    pooled = []
    for i in TAP_BLOCKS:
        x = out[block_output_name(i)]
        pooled += [L.GlobalMaxPooling2D(name=f"block{i}_max")(x), L.GlobalAveragePooling2D(name=f"block{i}_mean")(x)]
    features = L.Concatenate(name=FEATURE_LAYER)(pooled)
    model = keras.Model(inputs, features, name="efficientnet_lite0_features")
    set_pretrained_weights(model, weights if weights is not None else pretrained_weights())
    return model


def build_classifier(feature_model, kernel: np.ndarray, bias: float):
    """The saved model: feature_model's layers + Dense(1, sigmoid) with the trained head's weights (features
    in their raw scale: the head's standardisation is folded into kernel and bias)."""
    keras = import_keras()
    head = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_LAYER)
    outputs = head(feature_model.outputs[0])
    model = keras.Model(feature_model.input, outputs, name="fanqc_efficientnet_lite0")
    head.set_weights([np.asarray(kernel, np.float32).reshape(-1, 1), np.array([bias], np.float32)])
    return model

