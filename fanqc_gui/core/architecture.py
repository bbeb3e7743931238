"""The default network: exactly the reference script's CNN, written with keras.Input.

Conv2D(32, 3x3, relu) - MaxPool - Conv2D(64, 3x3, relu) - MaxPool - Flatten - Dense(128, relu) -
Dense(1, sigmoid) = P(NG); adam, binary cross-entropy.
"""
from __future__ import annotations

from dataclasses import dataclass

from .tf_runtime import import_keras

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


def build_reference_cnn(image_size: int = 80, learning_rate: float = 1e-3):
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = layers.Conv2D(32, (3, 3), activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D((2, 2), name="pool1")(x)
    x = layers.Conv2D(64, (3, 3), activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D((2, 2), name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_ng")(x)
    model = keras.Model(inputs, outputs, name="fanqc_reference_cnn")
    compile_for_training(model, learning_rate)
    return model


def compile_for_training(model, learning_rate: float = 1e-3) -> None:
    keras = import_keras()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])


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
