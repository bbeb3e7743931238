"""The pretrained preset's network: EfficientNet-Lite0 up to the end of stage 6, the outputs of three blocks
pooled, averaged over the orientation variants the run trained with, and one sigmoid unit on top. One
functional Keras model, image -> P(NG), standard layers only (it loads in safe mode and converts to TFLite
like the reference network).

Why these features: a defect of a few pixels changes a few positions of a mid-level feature map; the global
average of that map dilutes it among hundreds of positions, the global maximum keeps it. So each tapped
block's map is pooled both ways. The taps are the last block of stage 5 (112 channels at 1/16 of the input:
parts and textures at the scale of small defects) and of stage 6 (192 channels at 1/32: larger shapes).
The 1280-channel head, tuned to ImageNet's object classes, is left out: on the screw photos its pooled
features separated GO from NG markedly worse (ROC AUC 0.91 vs 0.98 with the same head and augmentation).
The middle block of stage 5 (block 8, same scale) adds its global maximum only: one more look at a few-pixel
defect before the next two blocks mix it with its surroundings; its mean adds nothing the others lack.

Orientation: a part photographed at any rotation looks different to the backbone at each quarter turn. The
classifier runs the backbone on each of the run's orientation variants of the image (flips and turns,
features.variant; 1 where there are images enough) and averages the pooled features, so the score does not
depend on how the part lies, and the head is trained on exactly these averaged features. The variants are
made with standard layers only (Permute for the transpose, a fixed 0/1 Dense along one axis for a flip:
exact in float32), so the one saved model still loads in safe mode and converts to TFLite.
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

TAP_BLOCKS = (10, 14)  # pooled by maximum and mean
MAX_TAP_BLOCKS = (8,)  # pooled by maximum only
FEATURE_LAYER = "features"
OUTPUT_LAYER = "p_ng"


def feature_dim() -> int:
    return (sum(2 * blocks()[i].channels_out for i in TAP_BLOCKS)
            + sum(blocks()[i].channels_out for i in MAX_TAP_BLOCKS))


def build_feature_model(height: int, width: int, weights: dict | None = None):
    """image (float RGB in [0, 1]) -> the pooled features (feature_dim(),), with the ImageNet weights."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input((height, width, 3), name="image")
    out = backbone_layers(inputs)
    pooled = [L.GlobalMaxPooling2D(name=f"block{i}_max")(out[block_output_name(i)]) for i in MAX_TAP_BLOCKS]
    for i in TAP_BLOCKS:
        x = out[block_output_name(i)]
        pooled += [L.GlobalMaxPooling2D(name=f"block{i}_max")(x), L.GlobalAveragePooling2D(name=f"block{i}_mean")(x)]
    features = L.Concatenate(name=FEATURE_LAYER)(pooled)
    model = keras.Model(inputs, features, name="efficientnet_lite0_features")
    set_pretrained_weights(model, weights if weights is not None else pretrained_weights())
    return model


def _flip(x, axis: int, size: int, name: str):
    """x (N, H, W, C) mirrored along axis 1 (rows) or 2 (columns): the axis moved last, a Dense with the
    fixed reversal matrix, moved back. Standard layers; the products are x*1 and x*0, so it is exact."""
    keras = import_keras()
    L = keras.layers
    order = (3, 2, 1) if axis == 1 else (1, 3, 2)  # both orders are their own inverse
    dense = L.Dense(size, use_bias=False, trainable=False, name=f"{name}_reverse")
    y = L.Permute(order, name=f"{name}_in")(x)
    y = dense(y)
    dense.set_weights([np.eye(size, dtype=np.float32)[::-1]])
    return L.Permute(order, name=f"{name}_out")(y)


def orientation_views(x, variants: int, height: int, width: int) -> list:
    """features.variant(image, k) for k < variants, as layers (the same order)."""
    L = import_keras().layers
    if variants <= 1:
        return [x]
    cols = _flip(x, 2, width, "view_flip_lr")
    rows = _flip(x, 1, height, "view_flip_tb")
    half = _flip(cols, 1, height, "view_half_turn")
    views = [x, cols, rows, half]
    if variants > 4:  # square inputs only
        views += [L.Permute((2, 1, 3), name=f"view_{n}")(v) for n, v in
                  (("quarter_left", cols), ("quarter_right", rows), ("transposed", x), ("anti_transposed", half))]
    return views[:variants]


def build_classifier(feature_model, kernel: np.ndarray, bias: float, variants: int = 1):
    """The saved model: feature_model's layers (run on each of the first `variants` orientation views of the
    image, the pooled features averaged) + Dense(1, sigmoid) with the trained head's weights (features in
    their raw scale: the head's standardisation is folded into kernel and bias)."""
    keras = import_keras()
    L = keras.layers
    head = L.Dense(1, activation="sigmoid", name=OUTPUT_LAYER)
    inputs, features = feature_model.input, feature_model.outputs[0]
    if variants > 1:
        # The image as is runs through feature_model's own layers (top level: Insight's Grad-CAM and feature
        # maps use them); the other views through one twin of it, a nested model with the same weights.
        height, width = (int(v) for v in feature_model.input.shape[1:3])
        twin = build_feature_model(height, width, weights={})
        twin.set_weights(feature_model.get_weights())
        views = orientation_views(inputs, variants, height, width)[1:]
        features = L.Average(name="orientation_mean")([features, *(twin(v) for v in views)])
    outputs = head(features)
    model = keras.Model(inputs, outputs, name="fanqc_efficientnet_lite0")
    head.set_weights([np.asarray(kernel, np.float32).reshape(-1, 1), np.array([bias], np.float32)])
    return model
