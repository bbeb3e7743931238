"""Predictions from a trained model: backends agree, batching does not matter, errors keep their place."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.inference import Predictor, expand_paths
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    """(workspace root, store, model info) for a model trained on the demo workspace."""
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.training.trainer import TrainOptions, train

    base = tmp_path_factory.mktemp("inference")
    shutil.copytree(demo_workspace_template, base / "ws")
    store = ModelStore(base / "models")
    result = train(open_workspace(base / "ws"), store, TrainOptions(preset="reference", image_size=32, epochs=3))
    return base / "ws", store, result.model


@pytest.fixture(scope="module")
def predictors(trained):
    _, store, info = trained
    return Predictor(info, backend="litert"), Predictor(info, backend="keras", store=store)


def _images(ws):
    return sorted(ws.glob("*/*.jpg"))


def test_litert_and_keras_agree_on_real_images(trained, predictors):
    ws, _, _ = trained
    litert, keras_ = predictors
    paths = _images(ws)
    assert len(paths) == 56
    a = np.array([p.p_ng for p in litert.predict_paths(paths)])
    b = np.array([p.p_ng for p in keras_.predict_paths(paths)])
    assert a.std() > 1e-3, "a trained model gives different scores to different parts"
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


def test_auto_backend_is_litert_when_the_tflite_file_exists(trained, tmp_path):
    _, store, info = trained
    assert Predictor(info).backend_name == "litert"
    shutil.copytree(info.folder, tmp_path / "m")
    (tmp_path / "m" / "model.tflite").unlink()
    copy = ModelStore(tmp_path).get("m")
    assert Predictor(copy).backend_name == "keras"
    with pytest.raises(ModelStoreError, match="fanqc export"):
        Predictor(copy, backend="litert")
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(info, backend="cuda")


def test_damaged_tflite_file_is_a_clear_error(trained, tmp_path):
    _, _, info = trained
    shutil.copytree(info.folder, tmp_path / "m")
    (tmp_path / "m" / "model.tflite").write_bytes(b"garbage" * 10)
    with pytest.raises(ModelStoreError, match="cannot load"):
        Predictor(ModelStore(tmp_path).get("m"), backend="litert")


@pytest.mark.parametrize("backend", [0, 1])
def test_batched_equals_one_at_a_time(trained, predictors, backend):
    ws, _, _ = trained
    predictor = predictors[backend]
    frames = [decode_image(p) for p in _images(ws)[:20]]
    batched = predictor.predict_frames(frames)
    single = np.array([predictor.predict_frame(f) for f in frames])
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-6)
    by_paths = [p.p_ng for p in predictor.predict_paths(_images(ws)[:20], batch_size=6)]
    np.testing.assert_allclose(by_paths, single, rtol=0, atol=1e-6)


def test_camera_frame_scores_like_the_saved_file(trained, predictors):
    ws, _, _ = trained
    predictor = predictors[0]
    for path in _images(ws)[::9]:
        frame = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)  # what a camera hands over
        from_file = predictor.predict_paths([path])[0].p_ng
        assert predictor.predict_frame(frame) == pytest.approx(from_file, abs=1e-7)


def test_frames_of_any_size_are_resized_by_the_model_spec(predictors):
    frame = np.full((480, 640, 3), 128, np.uint8)
    p = predictors[0].predict_frame(frame)
    assert 0.0 <= p <= 1.0


def test_unreadable_files_get_errors_in_their_place(trained, predictors, tmp_path):
    ws, _, _ = trained
    good = _images(ws)[:5]
    (tmp_path / "notes.jpg").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    paths = [good[0], tmp_path / "notes.jpg", good[1], tmp_path / "gone.jpg", good[2], good[3],
             tmp_path / "empty.png", good[4]]
    progress = []
    preds = predictors[0].predict_paths(paths, batch_size=3, progress=lambda d, t: progress.append((d, t)))
    assert [p.path for p in preds] == [str(p) for p in paths]
    errors = {i: p.error for i, p in enumerate(preds) if p.error}
    assert set(errors) == {1, 3, 6}
    assert "not an image" in errors[1] and "not found" in errors[3] and "empty" in errors[6]
    assert all(preds[i].p_ng is None and preds[i].verdict is None for i in errors)
    assert preds[1].to_dict() == {"path": str(paths[1]), "p_ng": None, "verdict": None, "error": errors[1]}
    alone = [p.p_ng for p in predictors[0].predict_paths(good)]
    assert [preds[i].p_ng for i in (0, 2, 4, 5, 7)] == pytest.approx(alone, abs=1e-6)
    assert progress == [(3, 8), (6, 8), (8, 8)]


def test_prediction_stops_between_batches_when_asked(trained, predictors):
    ws, _, _ = trained
    calls = []
    preds = predictors[0].predict_paths(_images(ws), batch_size=10, should_stop=lambda: len(calls) >= 2,
                                        progress=lambda d, t: calls.append(d))
    assert len(preds) == 20


def test_verdict_follows_the_model_threshold(trained, predictors):
    ws, _, info = trained
    predictor = Predictor(info)
    assert predictor.threshold == info.threshold <= 0.5
    for p in predictor.predict_paths(_images(ws)):
        assert p.verdict == ("NG" if p.p_ng >= info.threshold else "GO")
    predictor.threshold = 1.01
    assert {p.verdict for p in predictor.predict_paths(_images(ws))} == {"GO"}


def test_trained_model_separates_the_demo_classes(trained, predictors):
    ws, _, _ = trained
    go = [p.p_ng for p in predictors[0].predict_paths(sorted((ws / "GO").iterdir()))]
    ng = [p.p_ng for p in predictors[0].predict_paths(sorted((ws / "NG").iterdir()))]
    assert np.mean(ng) > np.mean(go), "P(NG) must be higher on NG parts than on GO parts"


def test_expand_paths_takes_files_folders_and_class_folders(trained, tmp_path):
    ws, _, _ = trained
    one = _images(ws)[0]
    found = expand_paths([ws, one])
    assert len(found) == 57 and found[-1] == one
    assert expand_paths([ws / "inbox"]) == sorted((ws / "inbox").iterdir())
    for folder in ("a", "a/GO", "a/.hidden"):
        (tmp_path / folder).mkdir()
    for name in ("a/top.png", "a/GO/x.jpg", "a/.hidden/y.jpg", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert expand_paths([tmp_path / "a"]) == [tmp_path / "a/top.png", tmp_path / "a/GO/x.jpg"]


@pytest.mark.parametrize("name", ["no_such_folder", "no_such_file.jpg"])
def test_expand_paths_refuses_a_path_that_does_not_exist(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=f"not found: .*{name}"):
        expand_paths([tmp_path / name])
