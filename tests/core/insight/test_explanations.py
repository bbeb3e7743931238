"""Insight engine: filters, feature maps, Grad-CAM, rankings and workspace predictions.

Hand-built Keras models with known weights check the arithmetic (Grad-CAM must point at the bright square
the model looks for); a model trained on tiny generated data and an imported Sequential .h5 check that any
model in the store can be inspected.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanqc_gui.core.insight.explanations import (
    InsightError,
    ModelProbe,
    Suggestion,
    diverging_colors,
    feature_maps,
    feature_mosaic,
    first_layer_kernels,
    grad_cam,
    kernel_images,
    kernel_text,
    kernels_from_weights,
    overlay_heatmap,
    roc_points,
    suggest_for_inbox,
    uncertain_mask,
    wrongness,
)
from fanqc_gui.core.insight.workspace_predictions import ImagePrediction
from fanqc_gui.core.models.evaluation import roc_curve
from fanqc_gui.core.tf_runtime import tensorflow_available

needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")


# ---- filters (numpy only) ---------------------------------------------------------------------------------
def test_kernels_are_reordered_one_per_filter():
    w = np.arange(3 * 3 * 3 * 4, dtype=np.float32).reshape(3, 3, 3, 4)  # Keras: (kh, kw, in, out)
    k = kernels_from_weights(w)
    assert k.shape == (4, 3, 3, 3)
    for i in range(4):
        np.testing.assert_array_equal(k[i], w[..., i])


def test_kernel_images_scale_each_kernel_symmetrically_around_grey():
    rng = np.random.default_rng(0)
    kernels = rng.normal(0, 1, (32, 3, 3, 3)).astype(np.float32)
    kernels[5] *= 1e-4  # a tiny kernel is still visible: scaling is per kernel
    images = kernel_images(kernels)
    assert len(images) == 32
    for k, img in zip(kernels, images):
        assert img.shape == (3, 3, 3) and img.dtype == np.uint8
        scale = np.max(np.abs(k))
        back = (img.astype(np.float64) - 127.5) / 127.5 * scale  # the picture encodes the weights
        np.testing.assert_allclose(back, k, atol=scale / 255 + 1e-9)
        assert img.min() == 0 or img.max() == 255  # the largest |weight| reaches full scale


def test_zero_kernel_is_mid_grey_and_per_channel_view_has_three_maps():
    kernels = np.zeros((2, 3, 3, 3), np.float32)
    kernels[1, 0, 0, 0] = 2.0  # red weight positive, top-left
    kernels[1, 2, 2, 2] = -1.0  # blue weight negative, bottom-right
    grey = kernel_images(kernels)[0]
    assert set(np.unique(grey)) == {128}
    tiles = kernel_images(kernels, per_channel=True)
    assert tiles[1].shape == (3, 3 * 4 - 1, 3)
    assert np.all(tiles[1][:, 3] == 255) and np.all(tiles[1][:, 7] == 255)  # white gaps between channels
    np.testing.assert_array_equal(tiles[1][0, 0], diverging_colors(np.float32(1.0)))  # red: +max
    np.testing.assert_array_equal(tiles[1][2, 8 + 2], diverging_colors(np.float32(-0.5)))  # B channel, -1/2
    np.testing.assert_array_equal(tiles[1][1, 1], [255, 255, 255])  # zero is white


def test_kernel_text_lists_every_weight():
    k = np.arange(27, dtype=np.float32).reshape(3, 3, 3) / 100
    text = kernel_text(k, 4)
    assert text.startswith("Filter 5: 3×3×3")
    for value in k.reshape(-1):
        assert f"{value:+.3f}" in text
    assert "R:" in text and "G:" in text and "B:" in text


def test_feature_mosaic_places_each_channel():
    maps = np.zeros((4, 5, 10), np.float32)  # 4 high, 5 wide, 10 channels
    for c in range(10):
        maps[c % 4, c % 5, c] = c + 1.0  # one hot pixel per channel, at a different place each
    mosaic = feature_mosaic(maps, columns=4, gap=1)
    assert mosaic.shape == (3 * (4 + 1) - 1, 4 * (5 + 1) - 1)
    for c in range(10):
        r, col = divmod(c, 4)
        tile = mosaic[r * 5:r * 5 + 4, col * 6:col * 6 + 5]
        expected = np.zeros((4, 5), np.uint8)
        expected[c % 4, c % 5] = 255  # each tile scaled to its own maximum
        np.testing.assert_array_equal(tile, expected)
    assert np.all(mosaic[:, 5] == 255) and np.all(mosaic[4, :] == 255)  # white gaps
    assert np.all(mosaic[10:, 2 * 6:] == 255)  # no tiles for channels 10 and 11


def test_overlay_blends_the_heatmap_over_the_image():
    bgr = np.full((20, 30, 3), 100, np.uint8)
    heat = np.zeros((5, 5), np.float32)
    heat[0, 0] = 1.0
    np.testing.assert_array_equal(overlay_heatmap(bgr, heat, 0.0), bgr)
    full = overlay_heatmap(bgr, heat, 1.0)
    assert full.shape == bgr.shape and full.dtype == np.uint8
    assert full[0, 0, 2] > full[0, 0, 0]  # hot corner: red in BGR
    assert full[-1, -1, 0] > full[-1, -1, 2]  # cold: blue
    with pytest.raises(ValueError):
        overlay_heatmap(bgr[..., 0], heat, 0.5)


# ---- rankings -------------------------------------------------------------------------------------------
def test_wrongness_and_uncertainty():
    w = wrongness([0, 1, None, 1], [0.9, 0.8, 0.5, None])
    np.testing.assert_allclose(w[:2], [0.9, 0.2])
    assert np.isnan(w[2]) and np.isnan(w[3])
    np.testing.assert_array_equal(uncertain_mask([0.05, 0.3, 0.45, None], 0.4, band=0.1), [False, False, True, False])


def _p(path, p):
    return ImagePrediction(path, "inbox", p)


def test_inbox_suggestions_agree_with_the_verdict_and_are_confident():
    preds = [_p("a", 0.99), _p("b", 0.02), _p("c", 0.6), _p("d", None), _p("e", 0.04), _p("f", 0.97)]
    got = suggest_for_inbox(preds, threshold=0.5, confidence=0.95)
    assert got == [Suggestion("a", 1, 0.99), Suggestion("b", 0, 0.02), Suggestion("e", 0, 0.04),
                   Suggestion("f", 1, 0.97)]
    # a threshold of 0.03 (catch every defect): 0.04 is NG at the threshold, so it cannot be suggested as GO
    low = suggest_for_inbox(preds, threshold=0.03, confidence=0.95)
    assert [(s.path, s.label) for s in low] == [("a", 1), ("b", 0), ("f", 1)]
    with pytest.raises(ValueError):
        suggest_for_inbox(preds, 0.5, confidence=0.3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])
                          | st.floats(0, 1)), min_size=1, max_size=40))
def test_roc_points_equal_the_engine_roc_curve(pairs):
    labels, scores = [p[0] for p in pairs], [p[1] for p in pairs]
    for mine, engine in zip(roc_points(labels, scores), roc_curve(labels, scores)):
        np.testing.assert_allclose(mine, engine)


# ---- Keras models -------------------------------------------------------------------------------------------
def _bright_spot_model(size: int = 16):
    """P(NG) rises with the total brightness: conv 'bright' = mean of RGB (ReLU), dense weights all +1."""
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    inp = keras.Input((size, size, 3))
    bright = keras.layers.Conv2D(1, 1, activation="relu", name="bright")(inp)
    pooled = keras.layers.Conv2D(2, 3, activation="relu", name="second")(bright)
    flat = keras.layers.Flatten()(pooled)
    out = keras.layers.Dense(1, activation="sigmoid", name="score")(flat)
    model = keras.Model(inp, out)
    model.get_layer("bright").set_weights([np.full((1, 1, 3, 1), 1 / 3, np.float32), np.zeros(1, np.float32)])
    model.get_layer("second").set_weights([np.full((3, 3, 1, 2), 1 / 9, np.float32), np.zeros(2, np.float32)])
    n = flat.shape[-1]
    model.get_layer("score").set_weights([np.full((n, 1), 0.05, np.float32), np.float32([-3.0])])
    return model


def _spot_image(size: int = 16) -> np.ndarray:
    x = np.zeros((size, size, 3), np.float32)
    x[2:6, 9:13] = 1.0
    return x


@needs_tf
def test_grad_cam_points_at_what_raises_p_ng():
    model = _bright_spot_model()
    heat = grad_cam(model, _spot_image(), towards="NG")
    assert heat.shape == (16, 16) and heat.dtype == np.float32
    assert np.all(np.isfinite(heat)) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    r, c = np.unravel_index(np.argmax(heat), heat.shape)
    assert 1 <= r <= 6 and 8 <= c <= 13  # the bright square
    assert heat[14, 1] < 0.05  # dark corner: no evidence
    # evidence for GO: brightness only lowers P(GO), so nothing on the image speaks for GO
    assert np.all(grad_cam(model, _spot_image(), towards="GO") == 0)


@needs_tf
def test_probe_reports_p_ng_feature_maps_and_honours_inverted_outputs():
    model = _bright_spot_model()
    x = _spot_image()
    direct = float(model(x[None]).numpy()[0, 0])
    probe = ModelProbe(model)
    result = probe.explain(x)
    assert result.p_ng == pytest.approx(direct, abs=1e-6)
    assert [name for name, _ in result.feature_maps] == ["bright", "second"]
    assert result.feature_maps[0][1].shape == (16, 16, 1) and result.feature_maps[1][1].shape == (14, 14, 2)
    np.testing.assert_allclose(result.feature_maps[0][1][..., 0], x.mean(axis=2), atol=1e-6)
    inverted = ModelProbe(model, invert=True).explain(x)  # the sigmoid is P(GO): P(NG) = 1 - output
    assert inverted.p_ng == pytest.approx(1 - direct, abs=1e-6)
    assert inverted.towards == ("NG" if 1 - direct >= 0.5 else "GO")
    with pytest.raises(InsightError):
        probe.explain(np.zeros((2, 16, 16, 3), np.float32))


@needs_tf
def test_confident_predictions_still_get_a_heatmap():
    model = _bright_spot_model()
    dense = model.get_layer("score")
    w, b = dense.get_weights()
    dense.set_weights([w * 400, b])  # a float32 sigmoid of this is exactly 1.0
    x = _spot_image()
    assert float(model(x[None]).numpy()[0, 0]) == 1.0
    heat = grad_cam(model, x, towards="NG")
    assert heat.max() == pytest.approx(1.0) and np.all(np.isfinite(heat))


@needs_tf
def test_a_model_without_convolutions_is_refused_with_a_reason():
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inp)))
    with pytest.raises(InsightError, match="no convolution"):
        first_layer_kernels(model)
    with pytest.raises(InsightError, match="no convolution"):
        feature_maps(model, np.zeros((8, 8, 3), np.float32))


# ---- trained and imported models --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    if not tensorflow_available():
        pytest.skip("TensorFlow not installed")
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.training.trainer import TrainOptions, train

    base = tmp_path_factory.mktemp("insight-core")
    ws_root = base / "ws"
    shutil.copytree(demo_workspace_template, ws_root)
    ws = open_workspace(ws_root)
    store = ModelStore(base / "models")
    result = train(ws, store, TrainOptions(preset="reference",
                                           image_size=32, epochs=2, batch_size=16), use_disk_cache=False)
    return ws, store, result.model


@pytest.mark.slow
def test_trained_model_filters_maps_and_heatmap(trained):
    from fanqc_gui.core.imaging import decode_image, preprocess

    ws, store, info = trained
    model = store.load_keras(info)
    kernels = first_layer_kernels(model)
    w = model.get_layer("conv1").get_weights()[0]
    assert kernels.shape == (32, 3, 3, 3)
    for i in range(32):
        np.testing.assert_array_equal(kernels[i], w[..., i])
    x = preprocess(decode_image(next(ws.ng_dir.iterdir())), info.preprocess_spec)
    maps = feature_maps(model, x)
    assert [(n, m.shape) for n, m in maps] == [("conv1", (30, 30, 32)), ("conv2", (13, 13, 64))]
    assert all(np.all(m >= 0) for _, m in maps)  # after ReLU
    heat = grad_cam(model, x)
    assert heat.shape == (32, 32) and np.all(np.isfinite(heat)) and 0 <= heat.min() and heat.max() <= 1


@pytest.mark.slow
def test_imported_sequential_h5_can_be_inspected(tmp_path):
    """A seed_train.py-style Sequential model: layer names conv2d, conv2d_1, and no name 'conv2'."""
    from fanqc_gui.core.models.export import import_h5
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.tf_runtime import import_keras

    keras = import_keras()
    layers = keras.layers
    keras.utils.set_random_seed(1)
    seq = keras.Sequential([
        keras.Input(shape=(24, 24, 3)),
        layers.Conv2D(8, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Conv2D(16, (3, 3), activation="relu"), layers.MaxPooling2D(2, 2),
        layers.Flatten(), layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid"),
    ])
    seq.save(tmp_path / "old.h5")
    store = ModelStore(tmp_path / "models")
    info = import_h5(store, tmp_path / "old.h5")
    model = store.load_keras(info)
    assert isinstance(model, keras.Sequential)
    kernels = first_layer_kernels(model)
    np.testing.assert_array_equal(kernels, np.transpose(seq.layers[0].get_weights()[0], (3, 0, 1, 2)))
    x = np.random.default_rng(2).random((24, 24, 3), dtype=np.float32)
    result = ModelProbe(model, invert=bool(info.metadata["invert_output"])).explain(x)
    assert [m.shape for _, m in result.feature_maps] == [(22, 22, 8), (9, 9, 16)]
    assert result.heatmap.shape == (24, 24) and np.all(np.isfinite(result.heatmap))
    assert result.p_ng == pytest.approx(float(model(x[None]).numpy()[0, 0]), abs=1e-6)


@pytest.mark.slow
def test_workspace_predictions_equal_the_engine(trained):
    from fanqc_gui.core.insight.workspace_predictions import predict_workspace, workspace_images
    from fanqc_gui.core.models.inference import Predictor

    ws, store, info = trained
    predictor = Predictor(info)
    seen = []
    run = predict_workspace(ws, predictor, progress=lambda d, t: seen.append((d, t)))
    images = workspace_images(ws)
    assert run.complete and len(run.rows) == len(images) == 24 + 24 + 8 and seen[-1] == (56, 56)
    engine = Predictor(info).predict_paths([p for p, _ in images])
    assert [r.p_ng for r in run.rows] == [e.p_ng for e in engine]
    assert [r.folder for r in run.rows] == ["GO"] * 24 + ["NG"] * 24 + ["inbox"] * 8
    val = {ws.root / f["path"] for f in info.metadata["validation_files"]}
    assert {r.path for r in run.rows if r.in_validation} == {str(p) for p in val}
    assert run.validation_missing == 0
    stopped = predict_workspace(ws, predictor, should_stop=lambda: True)
    assert not stopped.complete and stopped.rows == []
