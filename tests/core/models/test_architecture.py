"""The default network is the reference script's CNN, layer for layer."""
from __future__ import annotations

import pytest

from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")

REFERENCE_LAYERS = [  # (kind, output shape, parameters) at 80x80 input
    ("InputLayer", (80, 80, 3), 0),
    ("Conv2D", (78, 78, 32), 3 * 3 * 3 * 32 + 32),
    ("MaxPooling2D", (39, 39, 32), 0),
    ("Conv2D", (37, 37, 64), 3 * 3 * 32 * 64 + 64),
    ("MaxPooling2D", (18, 18, 64), 0),
    ("Flatten", (20736,), 0),
    ("Dense", (128,), 20736 * 128 + 128),
    ("Dense", (1,), 128 + 1),
]


def test_default_model_has_the_reference_layers_shapes_and_parameters():
    from fanqc_gui.core.models.architecture import build_reference_cnn, describe_layers

    model = build_reference_cnn()
    rows = describe_layers(model)
    assert [(r.kind, r.output_shape, r.params) for r in rows] == REFERENCE_LAYERS
    assert model.count_params() == 2_673_857
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy" and type(model.optimizer).__name__ == "Adam"


def test_default_model_matches_the_reference_scripts_sequential_model():
    from fanqc_gui.core.models.architecture import build_reference_cnn
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    layers = keras.layers
    seed = keras.Sequential([  # as written in seed_train.py
        keras.Input(shape=(80, 80, 3)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(1, activation="sigmoid"),
    ])
    ours = build_reference_cnn()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in seed.get_weights()]
    ours_shapes = [tuple(layer.output.shape[1:]) for layer in ours.layers[1:]]
    assert ours_shapes == [tuple(layer.output.shape[1:]) for layer in seed.layers]


def test_every_layer_has_a_plain_language_explanation():
    from fanqc_gui.core.models.architecture import build_reference_cnn, describe_layers

    rows = describe_layers(build_reference_cnn(32))
    assert all(r.explanation for r in rows)
    assert "probability that the part is NG" in rows[-1].explanation
    assert rows[-1].name == "p_ng" and rows[1].output_shape == (30, 30, 32)


def test_fitted_start_stays_finite_and_small_on_identical_images():
    import numpy as np

    from fanqc_gui.core.models.architecture import build_reference_cnn

    same = np.repeat(np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32), 64, axis=0)
    model = build_reference_cnn(32, init_sample=same, ng_fraction=0.5)
    weights = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights)
    assert max(float(np.abs(w).max()) for w in weights) < 100.0
