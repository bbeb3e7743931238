"""The new model and the active one, measured on the same validation images with their own settings."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fanqc_gui.core.models.evaluation import compute_metrics
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training.model_comparison import (
    Comparison,
    ComparisonError,
    ModelFigures,
    compare_models,
    validation_set,
)

LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def _figures(scores, threshold=0.5, name="m") -> ModelFigures:
    return ModelFigures(name, name, compute_metrics(LABELS, np.asarray(scores, float), threshold))


GOOD = [0.1, 0.2, 0.1, 0.2, 0.9, 0.8, 0.9, 0.7]  # all right
MISSES_ONE = [0.1, 0.2, 0.1, 0.2, 0.9, 0.8, 0.9, 0.3]  # one defect passed
REJECTS_TWO = [0.6, 0.7, 0.1, 0.2, 0.9, 0.8, 0.9, 0.7]  # two good parts rejected


@pytest.mark.parametrize("new, old, verdict", [
    (GOOD, MISSES_ONE, "better"),
    (MISSES_ONE, GOOD, "worse"),
    (GOOD, GOOD, "same"),
    (REJECTS_TWO, MISSES_ONE, "mixed"),  # catches every defect, but rejects two good parts
    (MISSES_ONE, REJECTS_TWO, "mixed"),
])
def test_verdict_weighs_missed_defects_and_false_rejects(new, old, verdict):
    comparison = Comparison(_figures(new, name="new"), _figures(old, name="old"), images=8)
    assert comparison.verdict == verdict
    assert comparison.headline().startswith({"better": "The new model is better", "worse": "The new model is worse",
                                             "same": "Both models give the same results",
                                             "mixed": "Mixed result"}[verdict])


def test_the_headline_says_what_changes_at_the_station_in_words():
    mixed = Comparison(_figures(REJECTS_TWO, name="new"), _figures(MISSES_ONE, name="old"), images=8)
    assert "it misses 1 fewer defect and wrongly rejects 2 more good parts" in mixed.headline()
    assert "A missed defect reaches the customer" in mixed.headline()
    better = Comparison(_figures(GOOD, name="new"), _figures(MISSES_ONE, name="old"), images=8)
    assert better.headline() == ("The new model is better: it misses 1 fewer defect and wrongly rejects as many "
                                 "good parts.")
    assert "8 validation images (4 NG, 4 GO)" in better.details()
    assert "may have learned from some of them" in better.details()


def test_a_borderline_difference_from_the_training_figures_is_explained():
    measured = _figures(MISSES_ONE, name="new")
    same = Comparison(measured, None, images=8, recorded_matrix=measured.metrics.confusion_matrix)
    assert "During training" not in same.details()
    differs = Comparison(measured, None, images=8, recorded_matrix=[[4, 0], [0, 4]])
    assert "During training the new model caught 4 and rejected 0 of these" in differs.details()


def test_without_an_active_model_the_summary_says_so():
    comparison = Comparison(_figures(GOOD), None, images=8, active_error="it has no model file")
    assert comparison.verdict == "no_active"
    assert "no active model to compare with (it has no model file)" in comparison.headline()


def test_a_new_model_that_is_not_ready_says_so_before_activation():
    why = ("catches 98 % of defects (target 99.5 %) and rejects 5 % of good parts on 80 validation images (40 NG); "
           "catching 99.5 % would reject 31 % of good parts (the limit is 5 %): not ready for the station")
    better = Comparison(_figures(GOOD, name="new"), _figures(MISSES_ONE, name="old"), images=8,
                        readiness=(False, why))
    assert better.verdict == "better" and better.headline().startswith("The new model is better")
    assert better.headline().endswith("The new model is not ready for the station: catches 98 % of defects (target "
                                      "99.5 %) and rejects 5 % of good parts on 80 validation images (40 NG); "
                                      "catching 99.5 % would reject 31 % of good parts (the limit is 5 %). Activate "
                                      "it only if you accept that.")
    ready = Comparison(_figures(GOOD), None, images=8, readiness=(True, "catches 100 % ...: ready for the station"))
    assert "not ready" not in ready.headline()


def test_validation_set_resolves_against_the_root_and_counts_missing_files(tmp_path):
    (tmp_path / "GO").mkdir()
    (tmp_path / "GO" / "a.jpg").write_bytes(b"x")
    info = ModelInfo("m1", tmp_path, {"validation_files": [{"path": "GO/a.jpg", "label": 0},
                                                           {"path": "NG/gone.jpg", "label": 1}]})
    paths, labels, missing = validation_set(info, tmp_path)
    assert paths == [tmp_path / "GO" / "a.jpg"] and labels.tolist() == [0] and missing == 1


def test_a_model_without_recorded_validation_images_cannot_be_compared(tmp_path):
    info = ModelInfo("imported", tmp_path, {"name": "old fan_model", "validation_files": []})
    with pytest.raises(ComparisonError, match="old fan_model has no recorded validation images"):
        validation_set(info, tmp_path)


def test_a_model_with_held_out_scores_is_judged_on_them_not_on_its_own_training_images(tmp_path):
    """The pretrained and anomaly presets train on every image and record each image's held-out score:
    re-predicting those images with the final model would flatter it, so the comparison uses the record."""
    for folder in ("GO", "NG"):
        (tmp_path / folder).mkdir()
    files = []
    for i in range(4):
        for label, folder in ((0, "GO"), (1, "NG")):
            (tmp_path / folder / f"{i}.jpg").write_bytes(b"x")  # never decoded: nothing is re-predicted
            # held-out scores that disagree with the labels on one image of each class
            score = (0.9 if label == 0 else 0.1) if i == 0 else (0.1 if label == 0 else 0.9)
            files.append({"path": f"{folder}/{i}.jpg", "label": label, "oof_p_ng": score})
    info = ModelInfo("m1", tmp_path, {"name": "pretrained", "threshold": 0.5, "validation_files": files})
    comparison = compare_models(info, None, tmp_path)
    assert comparison.held_out and comparison.images == 8
    assert comparison.new.metrics.confusion_matrix == [[3, 1], [1, 3]]
    assert "held-out scores from training" in comparison.details()


# ---- with real models ------------------------------------------------------------------------------------
needs_tf = pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, demo_workspace_template):
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.training.trainer import TrainOptions, train

    base = tmp_path_factory.mktemp("comparison")
    shutil.copytree(demo_workspace_template, base / "ws")
    ws = open_workspace(base / "ws")
    store = ModelStore(base / "models")
    new = train(ws, store, TrainOptions(preset="reference",
                                        image_size=32, epochs=2, batch_size=8, seed=1), name="new").model
    # The "active" model: the same network with a much stricter threshold of its own (a second training run
    # would only cost time; tests/ui compares models with different input sizes and preprocessing).
    shutil.copytree(new.folder, store.root / "old")
    old = store.update_metadata("old", name="old", threshold=0.999)
    return ws, store, old, new


def _copy_ws(two_models, tmp_path) -> Path:
    ws = two_models[0]
    root = tmp_path / "ws"
    shutil.copytree(ws.root, root)
    return root


@pytest.mark.slow
@needs_tf
def test_both_models_are_measured_on_the_new_models_validation_images(two_models):
    ws, store, old, new = two_models
    files = new.metadata["validation_files"]
    comparison = compare_models(new, old, ws.root)
    assert comparison.images == len(files) and comparison.skipped == 0
    n_ng = sum(f["label"] for f in files)
    for figures in (comparison.new, comparison.active):
        m = figures.metrics
        assert m.images == len(files)
        assert sum(m.confusion_matrix[1]) == n_ng and sum(m.confusion_matrix[0]) == len(files) - n_ng
    assert comparison.new.metrics.threshold == new.threshold
    assert comparison.active.metrics.threshold == old.threshold == 0.999  # each model keeps its own threshold
    old_m, new_m = comparison.active.metrics, comparison.new.metrics
    assert old_m.confusion_matrix[1][1] <= new_m.confusion_matrix[1][1]  # stricter: catches no more defects
    assert (comparison.new.name, comparison.active.name) == ("new", "old")
    # the new model's figures agree with what training measured on the same images (up to one borderline image)
    assert abs(comparison.new.metrics.accuracy - new.metadata["validation"]["accuracy"]) <= 1.0 / len(files) + 1e-9


@pytest.mark.slow
@needs_tf
def test_moved_and_unreadable_validation_images_are_left_out_and_counted(two_models, tmp_path):
    _, store, old, new = two_models
    root = _copy_ws(two_models, tmp_path)
    files = new.metadata["validation_files"]
    (root / files[0]["path"]).unlink()
    (root / files[1]["path"]).write_bytes(b"\xff\xd8\xff not a jpeg")
    comparison = compare_models(new, old, root)
    assert comparison.missing == 1
    assert [Path(p).name for p, _ in comparison.unreadable] == [Path(files[1]["path"]).name]
    assert comparison.images == len(files) - 2
    assert comparison.new.metrics.images == comparison.active.metrics.images == len(files) - 2


@pytest.mark.slow
@needs_tf
def test_no_active_model_or_the_same_model_gives_one_column(two_models):
    ws, _, _, new = two_models
    assert compare_models(new, None, ws.root).active is None
    assert compare_models(new, new, ws.root).verdict == "no_active"


@pytest.mark.slow
@needs_tf
def test_an_active_model_that_cannot_run_is_reported_not_fatal(two_models, tmp_path):
    ws, _, old, new = two_models
    broken = tmp_path / "broken"
    shutil.copytree(old.folder, broken)
    (broken / "model.tflite").write_bytes(b"not a model")
    (broken / "model.keras").unlink()
    comparison = compare_models(new, ModelInfo("broken", broken, old.metadata), ws.root)
    assert comparison.active is None and "cannot be run" in comparison.active_error
    assert comparison.new.metrics.images == len(new.metadata["validation_files"])


@pytest.mark.slow
@needs_tf
def test_all_validation_images_gone_is_an_error_that_says_so(two_models, tmp_path):
    _, _, old, new = two_models
    with pytest.raises(ComparisonError, match="none of the .* validation images of new exist"):
        compare_models(new, old, tmp_path)
