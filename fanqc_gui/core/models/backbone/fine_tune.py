"""The pretrained preset's networks for fine-tuning the upper blocks (opt-in: `fanqc train --fine-tune`).

The frozen preset learns only the head. Fine-tuning also moves the weights of the blocks after the
mid-level tap (blocks 11-14: stage 6, the last tap), so the features adapt to parts unlike ImageNet's
objects. Everything below block 10 stays frozen, so each image's block-10 map is computed once (`lower`,
in LiteRT) and only the upper blocks train, on those maps, in Keras:

    maps of the image's views (V x h x w x 112) -> blocks 11-14 per view -> max and mean of block 14,
    averaged over the views -> next to the frozen part of the features (block 8's max, block 10's max and
    mean, also averaged) -> the head's standardisation (fixed) -> Dense(1, sigmoid), started from the head

which is exactly what the saved classifier computes (classifier.build_classifier) once the tuned weights
are copied into its layers of the same names. Batch norms keep their ImageNet statistics (inference mode):
a few hundred images cannot re-estimate them.
"""
from __future__ import annotations

import numpy as np

from fanqc_gui.core.models.backbone.classifier import MAX_TAP_BLOCKS, TAP_BLOCKS, feature_dim
from fanqc_gui.core.models.backbone.efficientnet_lite0 import (
    backbone_layers,
    block_layers,
    block_output_name,
    blocks,
    set_pretrained_weights,
)
from fanqc_gui.core.models.backbone.linear_head import LinearHead
from fanqc_gui.core.models.backbone.weights import pretrained_weights
from fanqc_gui.core.tf_runtime import import_keras

# The whole last tapped stage (blocks 11-14). Tuning block 14 alone was measured too (screws: out-of-fold
# ROC AUC 0.9645 vs 0.9761 frozen, 60 s): it did not help either, and tunes less of the features.
FIRST_TUNED = TAP_BLOCKS[0] + 1
LOWER_TAP = FIRST_TUNED - 1  # block 10: its map is the tuned blocks' input
TUNED_BLOCKS = tuple(range(FIRST_TUNED, TAP_BLOCKS[-1] + 1))  # 11..14
TUNER_OUTPUT = "p_ng"


def frozen_dims() -> int:
    """The features the tuned blocks do not change (the first ones: block 8's max, block 10's max and mean)."""
    assert max(MAX_TAP_BLOCKS) <= LOWER_TAP
    return feature_dim() - 2 * blocks()[TAP_BLOCKS[-1]].channels_out


def map_shape(height: int, width: int) -> tuple[int, int, int]:
    """The lower network's map (block 10's: 1/16 of the input) for an input of height x width."""
    stride = 2 * int(np.prod([b.stride for b in blocks()[:LOWER_TAP + 1]]))
    return -(-height // stride), -(-width // stride), blocks()[LOWER_TAP].channels_out


def build_lower_model(height: int, width: int, weights: dict | None = None):
    """image (float RGB in [0, 1]) -> block 10's map, with the ImageNet weights."""
    keras = import_keras()
    inputs = keras.Input((height, width, 3), name="image")
    out = backbone_layers(inputs)
    model = keras.Model(inputs, out[block_output_name(LOWER_TAP)], name="efficientnet_lite0_lower")
    set_pretrained_weights(model, weights if weights is not None else pretrained_weights())
    return model


def build_upper_model(shape: tuple[int, int, int], weights: dict | None = None):
    """block 10's map -> [max, mean] of block 14 (the tuned part of the features), ImageNet weights,
    batch norms frozen."""
    keras = import_keras()
    L = keras.layers
    inputs = keras.Input(shape, name=f"block{LOWER_TAP}_map")
    x = block_layers(inputs, TUNED_BLOCKS)
    last = TAP_BLOCKS[-1]
    pooled = L.Concatenate(name="tuned_features")([L.GlobalMaxPooling2D(name=f"block{last}_max")(x),
                                                   L.GlobalAveragePooling2D(name=f"block{last}_mean")(x)])
    model = keras.Model(inputs, pooled, name="efficientnet_lite0_upper")
    set_pretrained_weights(model, weights if weights is not None else pretrained_weights())
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.trainable = False  # Keras 3: a frozen batch norm also runs in inference mode
    return model


def build_tuner(shape: tuple[int, int, int], views: int, head: LinearHead, weights: dict | None = None):
    """(maps (N, views, *shape), frozen features averaged over the views (N, frozen_dims())) -> P(NG).
    Returns (model, its upper model: the tuned blocks)."""
    keras = import_keras()
    L = keras.layers
    upper = build_upper_model(shape, weights)
    maps = keras.Input((views, *shape), name="maps")
    frozen = keras.Input((frozen_dims(),), name="frozen_features")
    tuned = L.GlobalAveragePooling1D(name="views_mean")(L.TimeDistributed(upper, name="per_view")(maps))
    features = L.Concatenate(name="features")([frozen, tuned])
    scale = np.asarray(head.scale, np.float32)
    z = L.Normalization(mean=np.asarray(head.mean, np.float32), variance=scale * scale, name="standardise")(features)
    dense = L.Dense(1, activation="sigmoid", name=TUNER_OUTPUT)
    model = keras.Model([maps, frozen], dense(z), name="fanqc_fine_tune")
    dense.set_weights([np.asarray(head.w, np.float32).reshape(-1, 1), np.array([head.b], np.float32)])
    return model, upper


def raw_head(model, head: LinearHead) -> tuple[np.ndarray, float]:
    """The tuner's head on the raw features (its fixed standardisation folded in), as the classifier takes it."""
    w, b = model.get_layer(TUNER_OUTPUT).get_weights()
    kernel = w.reshape(-1) / np.asarray(head.scale, np.float64)
    return kernel.astype(np.float32), float(b[0] - np.sum(kernel * np.asarray(head.mean, np.float64)))


def tuned_weights(upper) -> dict[str, list[np.ndarray]]:
    """{layer name: weights} of the tuned blocks, for set_pretrained_weights on the saved classifier."""
    prefixes = tuple(f"block{i}_" for i in TUNED_BLOCKS)
    return {layer.name: layer.get_weights() for layer in upper.layers
            if layer.name.startswith(prefixes) and layer.get_weights()}
