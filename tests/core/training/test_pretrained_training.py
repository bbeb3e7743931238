"""The pretrained preset end to end on the small generated demo workspace (48 images of 96x96 px, trained at a
96x64 input: wide, so the geometry is checked too): what is saved and how it is used later, the feature cache,
stop, and the clear messages for a collapsed head, a missing backbone, too few images and impossible sizes.
Every run uses the same input size, so the backbone is converted to TFLite once for the whole file."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from fanqc_gui.core.dataset.scan import DatasetError
from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.imaging import load_for_model
from fanqc_gui.core.models.backbone import features as backbone_features
from fanqc_gui.core.models.backbone import weights as backbone_weights
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore
from fanqc_gui.core.tf_runtime import tensorflow_available
from fanqc_gui.core.training import pretrained_training
from fanqc_gui.core.training.trainer import TrainingError, TrainingListener, TrainOptions, train

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]


def _options(**changes) -> TrainOptions:
    return TrainOptions(**{"preset": "pretrained", "input_size": "96x64", **changes})


class Recorder(TrainingListener):
    def __init__(self, stop_after_images: int | None = None):
        self.stages, self.batches, self.epochs = [], [], []
        self.stop_after_images = stop_after_images

    def on_stage(self, text):
        self.stages.append(text)

    def on_batch(self, progress):
        self.batches.append(progress)

    def on_epoch(self, metrics, model):
        self.epochs.append(metrics)

    def should_stop(self):
        return bool(self.stop_after_images and self.batches
                    and self.batches[-1].images_done >= self.stop_after_images)


def skip_conversion(monkeypatch) -> list[dict]:
    """Keep each run's metadata instead of converting and writing the model (tens of seconds per test)."""
    kept: list[dict] = []

    def keep(store, model, metadata, *args, **kwargs):
        kept.append(metadata)
        return ModelInfo("not-written", store.root, metadata)

    monkeypatch.setattr(pretrained_training, "save_trained", keep)
    return kept


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_workspace_template):
    base = tmp_path_factory.mktemp("pretrained")
    shutil.copytree(demo_workspace_template, base / "ws")
    store = ModelStore(base / "models")
    recorder = Recorder()
    result = train(open_workspace(base / "ws"), store, _options(), recorder, name="pretrained try")
    return base, store, result, recorder


def test_run_saves_one_model_with_the_preset_geometry_and_an_out_of_fold_threshold(trained):
    _, store, result, rec = trained
    info = result.model
    assert [m.id for m in store.list()] == [info.id] and store.active() is None
    meta = info.metadata
    assert meta["architecture"] == "efficientnet_lite0" and meta["preset"] == "pretrained"
    assert (meta["preprocessing"]["width"], meta["preprocessing"]["height"]) == (96, 64)
    assert meta["input_size"] == [64, 96, 3]
    assert meta["training"]["input_size_used"] == "96x64" and meta["training"]["input_size_rule"] == "chosen"
    # Not square: the flips and the half turn at most; "auto" keeps the fewest views that lose no AUC.
    views_auc = meta["training"]["orientation_views_oof_auc"]
    assert set(views_auc) == {"1", "2", "4"}
    used = meta["training"]["orientation_variants_used"]
    assert views_auc[str(used)] >= max(views_auc.values()) - pretrained_training.VIEWS_AUC_TOLERANCE
    assert all(views_auc[str(c)] < max(views_auc.values()) - pretrained_training.VIEWS_AUC_TOLERANCE
               for c in (1, 2, 4) if c < used)
    choice = meta["threshold_choice"]
    assert choice["scores"].startswith("out-of-fold") and choice["n_go"] + choice["n_ng"] == 48
    assert meta["threshold"] == choice["threshold"] and 0 <= meta["threshold"] <= 1
    assert len(meta["validation_files"]) == 48 and {"oof_p_ng", "label", "path"} <= set(meta["validation_files"][0])
    assert [m.epoch for m in rec.epochs] == [1, 2, 3, 4, 5]  # one per fold
    assert rec.stages[0] == "Reading and decoding images" and rec.stages[-1] == "Saving model"
    assert rec.batches[-1].images_done == rec.batches[-1].images_total == 48
    assert result.to_dict()["val_accuracy"] > 0.75  # demo parts at 64 px, out of fold
    assert (info.folder / "model.tflite").is_file() and not (info.folder / "model.fast.tflite").exists()


def test_saved_model_is_one_safe_mode_keras_model_that_litert_and_insight_use_alike(trained):
    from fanqc_gui.core.insight.explanations import ModelProbe, first_layer_kernels
    from fanqc_gui.core.models.inference import Predictor

    base, store, result, _ = trained
    info = store.get(result.model.id)
    model = store.load_keras(info)  # safe mode
    assert not any(type(layer).__name__ == "Lambda" for layer in model.layers)
    assert model.output.shape[1:] == (1,)
    assert first_layer_kernels(model).shape == (32, 3, 3, 3)
    paths = sorted((base / "ws" / "NG").iterdir())[:3] + sorted((base / "ws" / "GO").iterdir())[:3]
    x = np.stack([load_for_model(p, info.preprocess_spec) for p in paths])
    keras_p = model(x, training=False).numpy().reshape(-1)
    litert_p = Predictor(info, backend="litert").p_ng_batch(x)
    assert np.abs(keras_p - litert_p).max() < 1e-4
    oof = {f["path"]: f["oof_p_ng"] for f in info.metadata["validation_files"]}
    assert all(f"NG/{p.name}" in oof or f"GO/{p.name}" in oof for p in paths)
    explanation = ModelProbe(model).explain(x[0], towards="NG")
    assert explanation.heatmap.shape == (64, 96) and explanation.feature_maps[0][0] == "stem_conv"


def test_retraining_reuses_cached_features_and_computes_only_new_images(trained, demo_workspace_template,
                                                                       monkeypatch):
    base, store, first, _ = trained
    skip_conversion(monkeypatch)
    assert first.model.metadata["training"]["features_computed"] == 48
    extra = sorted((demo_workspace_template / "inbox").iterdir())[:2]
    for path in extra:
        shutil.copy(path, base / "ws" / "GO" / f"extra_{path.name}")
    second = train(open_workspace(base / "ws"), store, _options())
    recipe = second.model.metadata["training"]
    assert (recipe["features_computed"], recipe["features_cached"]) == (2, 48)
    for path in extra:
        (base / "ws" / "GO" / f"extra_{path.name}").unlink()


def _litert_agrees_with_keras(store, info, folder) -> float:
    from fanqc_gui.core.models.inference import Predictor

    info = store.get(info.id)
    paths = sorted((folder / "NG").iterdir())[:2] + sorted((folder / "GO").iterdir())[:2]
    x = np.stack([load_for_model(p, info.preprocess_spec) for p in paths])
    keras_p = store.load_keras(info)(x, training=False).numpy().reshape(-1)
    return float(np.abs(keras_p - Predictor(info, backend="litert").p_ng_batch(x)).max())


def test_retraining_writes_its_head_into_the_cached_conversion_instead_of_converting_again(
        trained, demo_workspace_template, monkeypatch):
    base, store, first, _ = trained
    views = first.model.metadata["training"]["orientation_variants_used"]
    assert views == 4  # all that a wide input allows: what "on" below asks for, so the same network
    assert list((base / "ws" / ".fanqc" / "cache").glob(f"classifier-{views}-*.tflite"))
    conversions = []
    monkeypatch.setattr(pretrained_training, "keras_to_tflite", lambda model: conversions.append(model))
    monkeypatch.setattr(pretrained_training, "save_trained", _saving_without_conversion(conversions))
    extra = sorted((demo_workspace_template / "inbox").iterdir())[:3]
    for path in extra:  # more images: another head
        shutil.copy(path, base / "ws" / "NG" / f"extra_{path.name}")
    try:
        second = train(open_workspace(base / "ws"), store, _options(orientation_variants="on"))
    finally:
        for path in extra:
            (base / "ws" / "NG" / f"extra_{path.name}").unlink()
    assert conversions == []
    assert second.model.metadata["training"]["orientation_variants_used"] == views
    assert (second.model.folder / "model.tflite").read_bytes() != (first.model.folder / "model.tflite").read_bytes()
    assert _litert_agrees_with_keras(store, second.model, base / "ws") < 1e-4


def test_a_one_view_model_is_the_feature_network_with_the_head_appended_no_conversion(trained, monkeypatch):
    base, store, _, _ = trained
    conversions = []
    monkeypatch.setattr(pretrained_training, "keras_to_tflite", lambda model: conversions.append(model))
    monkeypatch.setattr(pretrained_training, "save_trained", _saving_without_conversion(conversions))
    result = train(open_workspace(base / "ws"), store, _options(orientation_variants="off", seed=5))
    assert conversions == []  # the backbone's TFLite that computed the features was reused
    assert result.model.metadata["training"]["orientation_variants_used"] == 1
    assert list((base / "ws" / ".fanqc" / "cache").glob("classifier-1-*.tflite"))
    assert _litert_agrees_with_keras(store, result.model, base / "ws") < 1e-4


def test_the_appended_head_scores_the_features_as_the_head_does(trained):
    from fanqc_gui.core.models.backbone import classifier_tflite
    from fanqc_gui.core.models.backends import LiteRTBackend

    base, *_ = trained
    backbone = next((base / "ws" / ".fanqc" / "cache").glob("backbone-*.tflite")).read_bytes()
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=backbone_features.feature_dim()).astype(np.float32) * 0.05
    model = classifier_tflite.with_head(classifier_tflite.append_head(backbone), kernel, -0.4)
    features_net = LiteRTBackend(None, content=backbone)
    x = rng.random((3, *features_net._shape)).astype(np.float32)
    features = features_net(x).reshape(3, -1)
    expected = 1.0 / (1.0 + np.exp(-(features @ kernel - 0.4)))
    np.testing.assert_allclose(LiteRTBackend(None, content=model)(x).reshape(-1), expected, atol=1e-5)


def test_a_conversion_is_kept_for_the_users_other_workspaces_and_a_damaged_copy_is_made_again(trained, tmp_path):
    from fanqc_gui.core.imaging import PreprocessSpec
    from fanqc_gui.core.models import conversion_cache

    base, *_ = trained
    real = next((base / "ws" / ".fanqc" / "cache").glob("backbone-*.tflite")).read_bytes()
    converted = []

    def convert():
        converted.append(1)
        return real

    spec = PreprocessSpec(width=96, height=64)
    for workspace in ("first", "second"):  # the second workspace finds the first one's conversion
        pretrained_training._converted.clear()
        cache = backbone_features.FeatureCache(spec, tmp_path / workspace / "cache")
        assert pretrained_training._conversion(cache, "backbone", convert) == real
        assert cache.load_tflite("backbone") == real
    assert converted == [1]
    kept = conversion_cache.conversion_file(f"backbone-{cache.key}")
    assert kept.read_bytes() == real and str(kept).startswith(os.environ["FANQC_CACHE_DIR"])
    for damaged in (kept, cache.tflite_file("backbone")):  # another program wrote over both copies
        damaged.write_bytes(real[:1000])
    pretrained_training._converted.clear()
    assert pretrained_training._conversion(cache, "backbone", convert) == real
    assert converted == [1, 1] and kept.read_bytes() == real and cache.load_tflite("backbone") == real


def test_fine_tuning_tunes_the_upper_blocks_and_keeps_the_threshold_out_of_fold(trained, tmp_path, monkeypatch):
    from fanqc_gui.core.models.backbone.weights import pretrained_weights

    base, _, _, _ = trained
    store = ModelStore(tmp_path / "models")
    rec = Recorder()
    monkeypatch.setattr(pretrained_training, "tuning_helped", lambda tuned, frozen: True)  # whatever it scored
    result = train(open_workspace(base / "ws"), store, _options(fine_tune=True, orientation_variants="off"), rec)
    meta = result.model.metadata
    assert meta["backbone"]["frozen"] is False
    tuned = meta["training"]["fine_tuned"]
    assert tuned["blocks"] == [11, 12, 13, 14] and tuned["epochs"] >= 2 and 0.0 <= tuned["oof_auc"] <= 1.0
    assert tuned["kept"] is True and "frozen_head_oof_auc" in tuned
    assert any(s.startswith("Fine-tuning blocks 11-14: fold 1 of 5") for s in rec.stages)
    # One curve point per fold, each scored on images it was not trained on: the frozen head's, then the tuned.
    assert [m.epoch for m in rec.epochs] == list(range(1, 11)) and len(meta["history"]) == 10
    assert meta["threshold_choice"]["scores"].startswith("out-of-fold")
    assert len(meta["validation_files"]) == 48
    keras_model = store.load_keras(result.model)
    imagenet = pretrained_weights()
    moved = np.abs(keras_model.get_layer("block12_project_conv").get_weights()[0]
                   - imagenet["block12_project_conv"][0]).max()
    assert moved > 1e-6  # tuned
    np.testing.assert_array_equal(keras_model.get_layer("block5_project_conv").get_weights()[0],
                                  imagenet["block5_project_conv"][0])  # below the tap: frozen
    assert _litert_agrees_with_keras(store, result.model, base / "ws") < 1e-4  # the station scores as trained


def test_fine_tuning_that_ranks_unseen_images_worse_is_not_kept(trained, tmp_path, monkeypatch):
    from fanqc_gui.core.training import fine_tuning

    base, *_ = trained

    def worse(records, spec, views, x, y, fold, lower_tflite, listener, feature_model, seed, check, first):
        return fine_tuning.FineTuned(oof=(1.0 - y).astype(np.float32), kernel=np.zeros(x.shape[-1], np.float32),
                                     bias=0.0, weights={}, history=[], epochs=2, check_scores=np.zeros(check),
                                     seconds=1.0)  # ranks every NG below every GO

    monkeypatch.setattr(fine_tuning, "fine_tune", worse)
    rec = Recorder()
    store = ModelStore(tmp_path / "models")
    result = train(open_workspace(base / "ws"), store, _options(fine_tune=True, orientation_variants="off"), rec)
    meta = result.model.metadata
    report = meta["training"]["fine_tuned"]
    assert report["kept"] is False and report["oof_auc"] == 0.0 and meta["backbone"]["frozen"] is True
    assert any(s.startswith("Fine-tuning did not help on images it never trained on") for s in rec.stages)
    assert meta["validation"]["roc_auc"] > 0.5  # the frozen head's out-of-fold scores
    assert _litert_agrees_with_keras(store, result.model, base / "ws") < 1e-4


def test_fine_tuning_is_refused_for_the_reference_preset_and_when_its_maps_outgrow_memory(
        trained, tmp_path, monkeypatch, capsys):
    from fanqc_gui.cli import main
    from fanqc_gui.core.training import fine_tuning

    with pytest.raises(ValueError, match="fine-tuning is for the pretrained preset"):
        TrainOptions(preset="reference", fine_tune=True).validate()
    base, *_ = trained
    assert main(["train", str(base / "ws"), "--preset", "reference", "--fine-tune", "--models",
                 str(tmp_path / "m1")]) == 2
    assert "fine-tuning is for the pretrained preset" in capsys.readouterr().err
    monkeypatch.setattr(fine_tuning, "MAPS_BUDGET_BYTES", 1000)
    store = ModelStore(tmp_path / "m2")
    with pytest.raises(TrainingError, match=r"fine-tuning 48 images .* needs .* GB of feature maps"):
        train(open_workspace(base / "ws"), store, _options(fine_tune=True))
    assert store.list() == []


def test_stop_during_fine_tuning_saves_nothing(trained, tmp_path):
    base, *_ = trained

    class StopWhenTuning(Recorder):
        def should_stop(self):
            return any(s.startswith("Fine-tuning blocks") for s in self.stages)

    store = ModelStore(tmp_path / "models")
    result = train(open_workspace(base / "ws"), store, _options(fine_tune=True, orientation_variants="off"),
                   StopWhenTuning())
    assert result.stopped and result.model is None and store.list() == []


def _saving_without_conversion(conversions: list):
    from fanqc_gui.core.training import training_run

    def save(store, model, metadata, *args, tflite=None, **kwargs):
        if tflite is None:
            conversions.append(model)
        return training_run.save_trained(store, model, metadata, *args, tflite=tflite, **kwargs)

    return save


def test_a_written_head_that_disagrees_with_the_trained_one_is_replaced_by_a_full_conversion(trained, monkeypatch):
    base, store, _, _ = trained
    from fanqc_gui.core.models.backbone import classifier_tflite

    monkeypatch.setattr(classifier_tflite, "with_head", lambda template, kernel, bias: template)  # the wrong head
    result = train(open_workspace(base / "ws"), store, _options(seed=3))
    assert _litert_agrees_with_keras(store, result.model, base / "ws") < 1e-4


def test_a_tflite_without_the_template_head_is_refused(trained):
    from fanqc_gui.core.models.backbone import classifier_tflite

    base, *_ = trained
    backbone = next((base / "ws" / ".fanqc" / "cache").glob("backbone-*.tflite")).read_bytes()
    with pytest.raises(classifier_tflite.HeadNotFound):
        classifier_tflite.with_head(backbone, np.zeros(backbone_features.feature_dim()), 0.0)


def test_stop_during_features_saves_nothing_and_keeps_what_was_computed(demo_workspace, tmp_path):
    store = ModelStore(tmp_path / "models")
    rec = Recorder(stop_after_images=4)
    result = train(open_workspace(demo_workspace), store, _options(orientation_variants="off"), rec)
    assert result.stopped and result.model is None and store.list() == []
    cached = list((demo_workspace / ".fanqc" / "cache").glob("features-*.npz"))
    assert len(cached) == 1
    with np.load(cached[0]) as npz:
        assert 4 <= len(npz["keys"]) < 48


def test_a_head_that_says_the_same_for_every_image_is_never_saved(demo_workspace, tmp_path, monkeypatch):
    def blank(self, batch):  # a backbone that sees nothing: every image gives the same features
        return np.ones((len(batch), backbone_features.feature_dim()), np.float32)

    monkeypatch.setattr(backbone_features.LiteRTFeatures, "__call__", blank)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(TrainingError, match="same score.*nothing was saved"):
        train(open_workspace(demo_workspace), store, _options(), use_disk_cache=False)
    assert store.list() == [] and not any(store.root.glob(".saving-*"))


def test_a_head_whose_loss_explodes_is_retried_at_the_safer_setting(demo_workspace, tmp_path, monkeypatch):
    from fanqc_gui.core.models.backbone import linear_head

    real_fit, calls = linear_head.fit_head, []

    def explodes_once(x, y, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise linear_head.HeadFailed("the head's loss became nan after 400 steps")
        return real_fit(x, y, **kwargs)

    monkeypatch.setattr(pretrained_training, "fit_head", explodes_once)
    skip_conversion(monkeypatch)
    result = train(open_workspace(demo_workspace), ModelStore(tmp_path / "models"),
                   _options(orientation_variants="on"))  # "auto" would fit heads to choose the views first
    retries = result.model.metadata["training"]["retries"]
    assert retries == [{"reason": "the head's loss became nan after 400 steps", "retried_with": linear_head.SAFER}]
    assert calls[1] == linear_head.SAFER


def test_missing_backbone_is_one_message_before_anything_runs(demo_workspace, tmp_path, monkeypatch):
    monkeypatch.setenv(backbone_weights.ENV_OVERRIDE, str(tmp_path / "gone.pth"))
    store = ModelStore(tmp_path / "models")
    rec = Recorder()
    with pytest.raises(TrainingError, match=r"weights are missing.*Nothing was trained"):
        train(open_workspace(demo_workspace), store, _options(), rec)
    assert rec.stages == [] and not store.root.exists()
    assert not (demo_workspace / ".fanqc" / "cache").exists()


def test_too_few_images_for_the_k_fold_is_one_clear_message(demo_workspace, tmp_path):
    for extra in sorted((demo_workspace / "NG").iterdir())[4:]:
        extra.unlink()  # 4 NG: enough to scan, too few for 5 folds
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DatasetError, match=r"4 NG images are too few.*5-fold"):
        train(open_workspace(demo_workspace), store, _options())
    assert store.list() == []


@pytest.mark.parametrize("change, message", [
    ({"input_size": "100x200"}, "cannot be taken by the pretrained preset"),
    ({"input_size": "big"}, "not N or WxH"),
    ({"preset": "imagenet"}, "unknown preset"),
    ({"orientation_variants": "sometimes"}, "orientation variants"),
    ({"folds": 1}, "folds"),
])
def test_impossible_pretrained_options_are_refused_before_anything_runs(tmp_path, change, message):
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ValueError, match=message):
        train(open_workspace(tmp_path), store, _options(**change))
    assert not store.root.exists()


def test_cli_trains_the_preset_and_says_an_impossible_size_in_one_line(demo_workspace, tmp_path, capsys,
                                                                       monkeypatch):
    from fanqc_gui.cli import main

    kept = skip_conversion(monkeypatch)
    models = str(tmp_path / "models")
    assert main(["train", str(demo_workspace), "--preset", "pretrained", "--image-size", "96x64",
                 "--orientation-variants", "off", "--folds", "4", "--models", models, "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    meta = kept[0]
    assert out["threshold_choice"]["scores"] == "out-of-fold (4-fold)" and out["verdict"]
    size = (meta["preprocessing"]["width"], meta["preprocessing"]["height"])
    assert meta["preset"] == "pretrained" and size == (96, 64)
    assert meta["training"]["orientation_variants_used"] == 1 and len(meta["history"]) == 4
    assert main(["train", str(demo_workspace), "--preset", "pretrained", "--image-size", "70", "--models", models]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multiple of 32" in err[0]


def _views(n: int, informative: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """N x 4 views x 6 features: the class shows (noisily) only in the `informative` views."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0.0, 1.0], n // 2)
    x = rng.normal(size=(n, 4, 6))
    for v in informative:
        x[:, v, :2] += 1.5 * y[:, None]
    return x, y


def test_auto_keeps_one_view_when_the_part_looks_the_same_however_it_lies():
    x, y = _views(120, informative=(0, 1, 2, 3))
    x[:, 1:] = x[:, :1]  # every view sees the same thing
    chosen, aucs = pretrained_training.fewest_views(x, y, _options())
    assert chosen == 1 and set(aucs) == {"1", "2", "4"}


def test_auto_keeps_the_views_that_carry_the_defects():
    x, y = _views(120, informative=(1,))  # only the mirrored view shows the defect
    chosen, aucs = pretrained_training.fewest_views(x, y, _options())
    assert chosen == 2 and aucs["1"] < 0.75 < aucs["2"]
