"""Anomaly mode end to end on the small generated demo workspace (24 GO / 24 NG fans of 96x96 px, a 96x64
input: wide, so the geometry is checked too): `fanqc train --mode anomaly` stores a model like any model,
the station and the commands use it through the normal Predictor, its scores are the trainer's, and bad
inputs give one clear message. The feature network is converted once (the workspace cache is shared)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fanqc_gui.cli import main
from fanqc_gui.core.dataset.decode_cache import CACHE_DIR
from fanqc_gui.core.dataset.scan import DatasetError
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.anomaly.heat_map import explain
from fanqc_gui.core.models.anomaly.options import AnomalyOptions
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_metadata import metadata_problem
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training.anomaly_training import train_anomaly
from fanqc_gui.core.training.trainer import TrainingListener

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
SIZE = "96x64"


def cli_json(capsys, *argv) -> tuple[int, object, str]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    """(workspace, store, the CLI's JSON) after `fanqc train WS --mode anomaly`."""
    root = tmp_path_factory.mktemp("anomaly")
    ws = root / "ws"
    shutil.copytree(demo_workspace_template, ws)
    store = ModelStore(root / "models")
    code = main(["train", str(ws), "--mode", "anomaly", "--image-size", SIZE, "--models", str(store.root),
                 "--json", "--quiet"])
    assert code == 0
    return ws, store


@pytest.fixture(scope="module")
def trained_doc(trained):
    _, store = trained
    (info,) = store.list()
    return info


def workspace_like(trained, tmp_path: Path, ng: bool = True) -> Path:
    """A copy of the demo workspace that shares the trained one's feature network (no second conversion)."""
    ws, _ = trained
    dest = tmp_path / "ws2"
    shutil.copytree(ws, dest, ignore=shutil.ignore_patterns("NG") if not ng else None)
    return dest


def test_trains_from_the_go_folder_and_is_stored_like_any_model(trained, trained_doc, capsys):
    _, store = trained
    meta = trained_doc.metadata
    assert meta["kind"] == "anomaly" and meta["method"] == "padim"
    assert meta["preprocessing"]["width"] == 96 and meta["preprocessing"]["height"] == 64
    assert meta["anomaly"]["grid"] == [8, 12]  # one cell per 8x8 input pixels
    assert meta["dataset"]["counts"]["train"] == {"GO": 24, "NG": 0}  # NG never trains...
    assert meta["dataset"]["counts"]["val"] == {"GO": 24, "NG": 24}  # ...it only calibrates
    assert 0.0 <= trained_doc.threshold <= 1.0
    choice = trained_doc.threshold_choice
    assert choice.n_ng == 24 and choice.reason and choice.scores == "held-out"
    assert trained_doc.tflite_path.is_file() and trained_doc.keras_path.is_file()
    assert metadata_problem(meta) is None
    code, doc, _ = cli_json(capsys, "models", "list", "--models", str(store.root))
    assert code == 0 and [m["kind"] for m in doc["models"]] == ["anomaly"]
    main(["models", "list", "--models", str(store.root)])
    assert "[anomaly: GO only]" in capsys.readouterr().out


def test_the_station_scores_exactly_what_the_trainer_recorded(trained_doc):
    meta = trained_doc.metadata
    assert meta["anomaly"]["check"]["max_abs_diff"] < 1e-3  # the saved model vs the trainer's statistics
    ws_root = Path(meta["dataset"]["root"]) if meta["dataset"]["root"] else None
    ng = [f for f in meta["validation_files"] if f["label"] == 1][:6]
    predictor = Predictor(trained_doc)  # LiteRT on model.tflite, as at the station
    assert predictor.backend_name == "litert" and predictor.is_anomaly
    got = [p.p_ng for p in predictor.predict_paths([ws_root / f["path"] for f in ng])]
    assert got == pytest.approx([f["oof_p_ng"] for f in ng], abs=1e-5)


def test_one_model_call_gives_the_verdict_and_the_map_of_where(trained, trained_doc):
    ws, _ = trained
    predictor = Predictor(trained_doc, backend="station")
    scores = {}
    for label in ("GO", "NG"):
        for path in sorted((ws / label).iterdir())[:8]:
            p, amap = predictor.predict_frame_with_map(decode_image(path))
            assert amap.shape == (8, 12) and 0.0 <= amap.min() <= amap.max() <= 1.0
            assert amap.max() == pytest.approx(p, abs=1e-6)  # the image score is the map's peak
            scores.setdefault(label, []).append(p)
    assert np.median(scores["NG"]) > np.median(scores["GO"])
    # What Insight and an NG capture show: the part with the map drawn over it, and where it peaks
    bgr = decode_image(min((ws / "NG").iterdir()))
    view = explain(predictor, bgr)
    assert view.drawn.shape == bgr.shape and view.verdict == ("NG" if view.score >= predictor.threshold else "GO")
    assert 0 <= view.hot_spot[0] < bgr.shape[1] and 0 <= view.hot_spot[1] < bgr.shape[0]


def test_the_keras_model_loads_in_safe_mode_and_scores_like_the_tflite(trained, trained_doc, tmp_path):
    ws, store = trained
    paths = sorted((ws / "NG").iterdir())[:3] + sorted((ws / "GO").iterdir())[:3]
    lite = [p.p_ng for p in Predictor(trained_doc).predict_paths(paths)]
    keras = Predictor(trained_doc, backend="keras", store=store)
    assert [p.p_ng for p in keras.predict_paths(paths)] == pytest.approx(lite, abs=0.02)
    assert keras.last_maps().shape[1:] == (8, 12)


def test_padim_statistics_are_kept_in_float16_and_older_float32_models_still_load(trained_doc):
    from fanqc_gui.core.models.anomaly import layers

    model = ModelStore(trained_doc.folder.parent).load_keras(trained_doc)
    scorer = model.get_layer("padim_distance")
    assert [w.dtype for w in scorer.weights] == ["float16", "float16"]  # half the memory the conversion needs
    # A model saved before: its scorer's config has no statistics_dtype and its weights are float32.
    config = {**scorer.get_config(), "channels": None}
    older_config = {k: v for k, v in config.items() if k != "statistics_dtype"}
    features = np.random.default_rng(0).normal(size=(2, scorer.rows, scorer.cols, scorer.depth)).astype(np.float32)
    distances = []
    for cfg, dtype in ((older_config, np.float32), (config, np.float16)):
        layer = layers.PatchMahalanobis.from_config(cfg)
        layer.build(features.shape)
        layer.set_weights([np.asarray(w, dtype) for w in scorer.get_weights()])
        assert {w.dtype for w in layer.weights} == {np.dtype(dtype).name}
        distances.append(np.asarray(layer(features)))
    np.testing.assert_allclose(distances[0], distances[1], rtol=1e-5)


def test_evaluate_predict_and_inspect_use_the_anomaly_model(trained, trained_doc, capsys, tmp_path):
    ws, store = trained
    code, doc, _ = cli_json(capsys, "evaluate", trained_doc.id, str(ws), "--models", str(store.root))
    assert code == 0 and doc["images"] == 48 and doc["roc_auc"] > 0.8 and doc["backend"] == "litert"
    ng_file = min((ws / "NG").iterdir())
    code, doc, _ = cli_json(capsys, "predict", trained_doc.id, str(ng_file), "--models", str(store.root))
    assert code == 0 and doc[0]["verdict"] in ("GO", "NG") and 0.0 <= doc[0]["p_ng"] <= 1.0
    (tmp_path / "station").mkdir()
    code, doc, _ = cli_json(capsys, "inspect", "--source", str(ws / "NG"), "--frames", "4", "--model",
                            trained_doc.id, "--workspace", str(tmp_path / "station"), "--models", str(store.root),
                            "--roi", "full", "--no-captures")
    assert code == 0 and doc["frames"] == 4 and doc["go"] + doc["ng"] == 4 and doc["backend"] == "litert"


def test_a_damaged_model_file_is_one_clear_message(trained, trained_doc, tmp_path, capsys):
    ws, _ = trained
    shutil.copytree(trained_doc.folder, tmp_path / "models" / "broken")
    tflite = tmp_path / "models" / "broken" / "model.tflite"
    tflite.write_bytes(tflite.read_bytes()[:5000])
    info = ModelStore(tmp_path / "models").get("broken")
    with pytest.raises(ModelStoreError, match="cannot load"):
        Predictor(info, backend="litert")
    code = main(["predict", "broken", str(ws / "GO"), "--models", str(tmp_path / "models")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("fanqc: error: cannot load")


def test_good_parts_alone_of_mixed_sizes_train_a_model_that_is_not_ready(trained, tmp_path, capsys):
    ws = workspace_like(trained, tmp_path, ng=False)
    for i, path in enumerate(sorted((ws / "GO").iterdir())[:6]):  # other sizes and aspects
        size = [(140, 90), (70, 70), (96, 130)][i % 3]
        cv2.imwrite(str(path), cv2.resize(decode_image(path), size))
    store = ModelStore(tmp_path / "models")
    result = train_anomaly(open_workspace(ws), store, AnomalyOptions(input_size=SIZE))
    choice = result.model.threshold_choice
    assert result.model.metadata["dataset"]["counts"]["val"] == {"GO": 24, "NG": 0}
    assert choice.threshold == 0.5 and choice.n_ng == 0 and not choice.ready
    assert "good parts only" in choice.reason and "add NG images" in choice.reason
    code = main(["models", "activate", result.model.id, "--models", str(store.root)])
    assert code == 2 and "not ready for the station" in capsys.readouterr().err
    assert store.active_id() is None


def test_no_go_images_or_a_handful_are_one_clear_message(trained, tmp_path, capsys):
    ws = workspace_like(trained, tmp_path)
    for path in sorted((ws / "GO").iterdir())[3:]:
        path.unlink()
    with pytest.raises(DatasetError, match="only 3 usable GO image.*at least 10"):
        train_anomaly(open_workspace(ws), ModelStore(tmp_path / "models"), AnomalyOptions(input_size=SIZE))
    shutil.rmtree(ws / "GO")
    (ws / "GO").mkdir()
    code = main(["train", str(ws), "--mode", "anomaly", "--models", str(tmp_path / "models")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("fanqc: error: no GO images in") and "Traceback" not in "".join(err)
    assert not (tmp_path / "models").exists() or not ModelStore(tmp_path / "models").list()


def test_stop_during_features_saves_nothing(trained, tmp_path):
    ws = workspace_like(trained, tmp_path)

    class StopAtOnce(TrainingListener):
        def should_stop(self):
            return True

    store = ModelStore(tmp_path / "models")
    result = train_anomaly(open_workspace(ws), store, AnomalyOptions(input_size=SIZE), StopAtOnce())
    assert result.stopped and result.model is None and store.list() == []


def test_patchcore_keeps_a_bounded_bank_and_scores_like_the_trainer(trained, tmp_path):
    ws = workspace_like(trained, tmp_path)
    assert any((ws / CACHE_DIR).glob("anomaly-features-*.tflite"))  # shared: no second conversion
    store = ModelStore(tmp_path / "models")
    result = train_anomaly(open_workspace(ws), store,
                           AnomalyOptions(method="patchcore", input_size=SIZE, max_bank=256))
    meta = result.model.metadata
    assert meta["method"] == "patchcore" and meta["anomaly"]["bank_size"] <= 256 + 5
    assert meta["anomaly"]["check"]["max_abs_diff"] < 1e-3
    ng = [f for f in meta["validation_files"] if f["label"] == 1][:4]
    got = [p.p_ng for p in Predictor(result.model).predict_paths([ws / f["path"] for f in ng])]
    assert got == pytest.approx([f["oof_p_ng"] for f in ng], abs=1e-5)


def test_the_station_path_runs_the_anomaly_model_without_tensorflow(trained, trained_doc):
    import subprocess
    import sys

    ws, _ = trained
    code = f"""
import sys
from fanqc_gui.core.models.anomaly.heat_map import overlay
from fanqc_gui.core.imaging import decode_image
from fanqc_gui.core.models.inference import Predictor
from fanqc_gui.core.models.model_store import ModelStore
info = ModelStore({str(trained_doc.folder.parent)!r}).get({trained_doc.id!r})
predictor = Predictor(info, backend="station")
frame = decode_image({str(min((ws / "NG").iterdir()))!r})
p, amap = predictor.predict_frame_with_map(frame)
assert overlay(frame, amap, predictor.threshold).shape == frame.shape
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
print(p)
"""
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 0.0 <= float(out.stdout.strip().splitlines()[-1]) <= 1.0


def test_training_a_classifier_without_ng_images_suggests_the_anomaly_mode(trained, tmp_path, capsys):
    ws = workspace_like(trained, tmp_path, ng=False)
    code = main(["train", str(ws), "--models", str(tmp_path / "models"), "--preset", "reference"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("fanqc: error: class NG has 0 usable image")
    assert "train 'Find anomalies (GO only)' instead" in err[-1] and "--mode anomaly" in err[-1]


def test_a_missing_backbone_is_one_message_before_anything_runs(demo_workspace, tmp_path, monkeypatch):
    from fanqc_gui.core.models.backbone import weights as backbone_weights
    from fanqc_gui.core.training.trainer import TrainingError

    seen: list[str] = []

    class Stages(TrainingListener):
        def on_stage(self, text):
            seen.append(text)

    monkeypatch.setenv(backbone_weights.ENV_OVERRIDE, str(tmp_path / "gone.pth"))
    backbone_weights._mapped.cache_clear()
    try:
        with pytest.raises(TrainingError, match=r"weights are missing.*Nothing was trained"):
            train_anomaly(open_workspace(demo_workspace), ModelStore(tmp_path / "models"), AnomalyOptions(),
                          Stages())
    finally:
        monkeypatch.undo()
        backbone_weights._mapped.cache_clear()
    assert seen == [] and not (tmp_path / "models").exists()
