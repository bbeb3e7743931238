"""The default network: exactly the reference script's CNN, written with keras.Input.

Conv2D(32, 3x3, relu) - MaxPool - Conv2D(64, 3x3, relu) - MaxPool - Flatten - Dense(128, relu) -
Dense(1, sigmoid) = P(NG); adam, binary cross-entropy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fanqc_gui.core.tf_runtime import import_keras

# One line per layer type, in words a supervisor can follow (shown by the training page and `fanqc models`).
LAYER_EXPLANATIONS = {
    "InputLayer": "The picture, resized to the model's input and scaled to 0..1 (red, green, blue).",
    "Conv2D": "Slides small learned filters over the image; each filter lights up where its pattern "
              "(edge, spot, texture) appears. ReLU keeps only positive responses.",
    "MaxPooling2D": "Keeps the strongest response in each 2x2 block: halves the size, tolerates small shifts.",
    "Flatten": "Lines all feature-map values up into one long list for the dense layers.",
    "Dense": "Weighs every input against every other to combine features into evidence.",
    "Dense_sigmoid": "One number between 0 and 1: the probability that the part is NG (defect).",
}
LOSS_EXPLANATION = ("Loss: binary cross-entropy - small when P(NG) is near 1 for NG parts and near 0 for GO "
                    "parts, large when the model is confidently wrong.")


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    explanation: str


def build_reference_cnn(image_size: int = 80, learning_rate: float = 1e-3, decay_steps: int | None = None,
                        init_sample=None, ng_fraction: float | None = None, warmup_steps: int = 0):
    """The reference layers. Hidden layers start from He-normal weights (the standard start for ReLU
    layers; Keras' default Glorot start learned this network markedly slower in our runs).

    With init_sample (float32 images in [0, 1], as `preprocess` gives them), the start is also fitted to the
    data (`fit_initialisation`); with ng_fraction, the output starts at the NG share of the training images."""
    keras = import_keras()
    layers = keras.layers
    init = "he_normal"
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = layers.Conv2D(32, (3, 3), activation="relu", kernel_initializer=init, name="conv1")(inputs)
    x = layers.MaxPooling2D((2, 2), name="pool1")(x)
    x = layers.Conv2D(64, (3, 3), activation="relu", kernel_initializer=init, name="conv2")(x)
    x = layers.MaxPooling2D((2, 2), name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", kernel_initializer=init, name="dense")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_ng")(x)
    model = keras.Model(inputs, outputs, name="fanqc_reference_cnn")
    if init_sample is not None or ng_fraction is not None:
        fit_initialisation(model, init_sample, ng_fraction)
    compile_for_training(model, learning_rate, decay_steps, warmup_steps)
    return model


def fit_initialisation(model, sample=None, ng_fraction: float | None = None, chunk: int = 64) -> None:
    """Data-dependent start (as in LSUV / weight-normalisation initialisation): layer by layer, each ReLU
    unit's kernel is rescaled and its bias set so that, on the sample images, its input to the ReLU has mean
    0 and variance 1. Inputs in 0..1 all share one large positive offset; without this the first epochs are
    spent learning it away. The output bias starts at the log-odds of the NG share, so the first batches are
    not spent learning the class balance. The layers are the reference's; only their starting values change.
    """
    keras = import_keras()
    ops = keras.ops
    layers = model.layers[1:]  # after the input
    if sample is not None and len(sample):
        # The sample flows through the layers once, in chunks; each hidden layer is fitted before the
        # sample goes on through it, so every layer sees the already-fitted layers before it.
        flow = [ops.convert_to_tensor(sample[i:i + chunk]) for i in range(0, len(sample), chunk)]
        for layer in layers[:-1]:
            if type(layer).__name__ not in ("Conv2D", "Dense"):
                flow = [layer(h) for h in flow]
                continue
            kernel, bias = layer.get_weights()
            pre = [ops.conv(h, kernel, strides=1, padding="valid") if kernel.ndim == 4 else ops.matmul(h, kernel)
                   for h in flow]
            axes = tuple(range(len(pre[0].shape) - 1))
            count = sum(int(np.prod(p.shape[:-1])) for p in pre)
            mean = sum(ops.convert_to_numpy(ops.sum(p, axis=axes)).astype(np.float64) for p in pre) / count
            mean_sq = sum(ops.convert_to_numpy(ops.sum(ops.square(p), axis=axes)).astype(np.float64)
                          for p in pre) / count
            std = np.sqrt(np.maximum(mean_sq - np.square(mean), 0.0))
            # A unit that barely varies over the sample (near-identical images) keeps its scale: dividing by a
            # tiny spread would blow its weights up. Its bias still centres it.
            varies = std > np.maximum(1e-3, 0.01 * np.abs(mean))  # beyond float32 rounding of the sums
            scale = np.where(varies, 1.0 / np.maximum(std, 1e-3), 1.0)
            layer.set_weights([(kernel * scale).astype(kernel.dtype), (-mean * scale).astype(bias.dtype)])
            flow = [layer(h) for h in flow]
    if ng_fraction is not None and 0.0 < ng_fraction < 1.0:
        out = layers[-1]
        kernel, bias = out.get_weights()
        out.set_weights([kernel, np.full_like(bias, math.log(ng_fraction / (1.0 - ng_fraction)))])


def compile_for_training(model, learning_rate: float = 1e-3, decay_steps: int | None = None,
                         warmup_steps: int = 0) -> None:
    """adam + binary cross-entropy, as the reference. With decay_steps, the learning rate is one cycle:
    it rises linearly from learning_rate / 25 to learning_rate over warmup_steps, then follows a cosine down
    to 1 % of learning_rate by the end of the run. The warm-up lets the run use a high peak rate without an
    unstable start; the cosine settles the last epochs instead of letting them oscillate."""
    keras = import_keras()
    rate = learning_rate
    if decay_steps:
        warmup_steps = max(0, min(int(warmup_steps), int(decay_steps) - 1))
        start = learning_rate / 25.0 if warmup_steps else learning_rate
        rate = keras.optimizers.schedules.CosineDecay(start, int(decay_steps) - warmup_steps, alpha=0.01,
                                                      warmup_target=learning_rate if warmup_steps else None,
                                                      warmup_steps=warmup_steps)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy", metrics=["accuracy"])


REFERENCE_INPUT = 80  # the input size the recipe (peak learning rate, schedule) was tuned at


def flat_features(image_size: int) -> int:
    """Inputs of the dense layer: what Flatten gives for a square input of image_size."""
    return ((((image_size - 2) // 2) - 2) // 2) ** 2 * 64


def step_scales(model, reference_size: int = REFERENCE_INPUT) -> dict[str, float]:
    """{variable path: factor} for the optimizer's steps (training_loop.run_epochs): the dense layer's kernel
    steps shrink by (its inputs at the reference size) / (its inputs now), never grow.

    Why: Adam moves every weight by about the learning rate whatever its gradient's size, so one step moves a
    unit's input by about the rate times its number of inputs, all pushed the same way by a batch. The dense
    layer has 20,736 inputs at 80 px, 57,600 at 128 and 92,416 at 160; at the tuned peak rate the larger
    inputs' first steps threw the dense units far past zero, their ReLUs died and the output went constant
    (160 px on the demo parts: loss 1.36 in epoch 1, then 0.693 = the class prior, AUC 0.5). The other layers'
    inputs do not grow with the image, so they keep the tuned rate; at 80 px and below nothing changes."""
    inputs = int(model.get_layer("flatten").output.shape[-1])
    factor = min(1.0, flat_features(reference_size) / inputs)
    kernel = model.get_layer("dense").kernel
    return {kernel.path: factor} if factor < 1.0 else {}


def describe_layers(model) -> list[LayerRow]:
    """Each layer with its real output shape, parameter count and a plain-language explanation."""
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        key = kind
        if kind == "Dense" and getattr(layer.activation, "__name__", "") == "sigmoid":
            key = "Dense_sigmoid"
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        rows.append(LayerRow(layer.name, kind, shape, int(layer.count_params()),
                             LAYER_EXPLANATIONS.get(key, "")))
    return rows


def reference_layer_table(image_size: int = 80) -> list[LayerRow]:
    """The reference CNN's layers computed without TensorFlow (the training page shows this before TF loads).
    A test checks it against the real Keras model."""
    s = image_size
    c1 = s - 2
    p1 = c1 // 2
    c2 = p1 - 2
    p2 = c2 // 2
    flat = p2 * p2 * 64
    return [
        LayerRow("image", "InputLayer", (s, s, 3), 0, LAYER_EXPLANATIONS["InputLayer"]),
        LayerRow("conv1", "Conv2D", (c1, c1, 32), 3 * 3 * 3 * 32 + 32, LAYER_EXPLANATIONS["Conv2D"]),
        LayerRow("pool1", "MaxPooling2D", (p1, p1, 32), 0, LAYER_EXPLANATIONS["MaxPooling2D"]),
        LayerRow("conv2", "Conv2D", (c2, c2, 64), 3 * 3 * 32 * 64 + 64, LAYER_EXPLANATIONS["Conv2D"]),
        LayerRow("pool2", "MaxPooling2D", (p2, p2, 64), 0, LAYER_EXPLANATIONS["MaxPooling2D"]),
        LayerRow("flatten", "Flatten", (flat,), 0, LAYER_EXPLANATIONS["Flatten"]),
        LayerRow("dense", "Dense", (128,), flat * 128 + 128, LAYER_EXPLANATIONS["Dense"]),
        LayerRow("p_ng", "Dense", (1,), 128 + 1, LAYER_EXPLANATIONS["Dense_sigmoid"]),
    ]
