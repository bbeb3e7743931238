"""Training with the pretrained preset: workspace -> features of the frozen EfficientNet-Lite0 backbone
(computed once per image in LiteRT, cached by content) -> a linear head -> one Keras model, image -> P(NG).

1. Scan (hash every file) and choose the input size: by rule from the images' sizes (backbone/input_size.py)
   or as given; it is stored in the model's preprocessing spec, so every later use resizes alike.
2. Features of every image and of its orientation variants (backbone/features.py); only images not in
   the cache are decoded and run. Each image's features are the mean over its variants: what the saved
   model computes (it runs the backbone on the same variants and averages), so the score is the same
   however the part lies, in training and at the station. Under "auto" the run keeps the fewest views
   that lose no out-of-fold ROC AUC (`fewest_views`): every view costs one backbone run per station frame.
3. k-fold on the averaged features: each image is scored by a head that never saw it.
   These out-of-fold scores of ALL labelled images choose the threshold (threshold_choice.py) and give
   the validation figures. A head whose loss turns NaN is retried once at a safer setting; a head whose
   scores are the same for every image stops the run with a message: nothing is saved.
4. The final head on all images, folded into a Dense(1, sigmoid) on the backbone's pooled features
   averaged over the variants.

The listener sees: stages, feature progress as batches of one "epoch", and one EpochMetrics per fold
(loss on the fold's training images, val_loss on its held-out images). A stop is honoured between feature
batches and between folds; a stopped run saves nothing (save_if_stopped does not apply: before the last
fold there is no threshold to save with), and the features computed so far stay in the cache.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from fanqc_gui import __version__
from fanqc_gui.core.dataset.decode_cache import CACHE_DIR
from fanqc_gui.core.dataset.scan import DatasetError, scan_workspace
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.imaging import PreprocessSpec, load_for_model
from fanqc_gui.core.models import conversion_cache
from fanqc_gui.core.models.backbone import classifier_tflite
from fanqc_gui.core.models.backbone import features as feats
from fanqc_gui.core.models.backbone import fine_tune as fine_tune_nets
from fanqc_gui.core.models.backbone.classifier import (
    MAX_TAP_BLOCKS,
    TAP_BLOCKS,
    build_classifier,
    build_feature_model,
    feature_dim,
)
from fanqc_gui.core.models.backbone.efficientnet_lite0 import set_pretrained_weights
from fanqc_gui.core.models.backbone.input_size import parse_input_size, sample_sizes, size_by_rule
from fanqc_gui.core.models.backbone.linear_head import L2, SAFER, HeadFailed, LinearHead, cross_entropy, fit_head
from fanqc_gui.core.models.backbone.weights import DISTRIBUTION, SHA256, VERSION, BackboneError, weights_path
from fanqc_gui.core.models.backends import LiteRTBackend
from fanqc_gui.core.models.evaluation import compute_metrics, roc_auc
from fanqc_gui.core.models.export import keras_to_tflite
from fanqc_gui.core.models.model_store import ModelStore, now_iso
from fanqc_gui.core.models.threshold_choice import choose_threshold
from fanqc_gui.core.tf_runtime import import_keras, import_tf, tensorflow_available
from fanqc_gui.core.training import fine_tuning
from fanqc_gui.core.training.training_run import (
    BatchProgress,
    EpochMetrics,
    TensorFlowImport,
    TrainingError,
    TrainingListener,
    TrainOptions,
    TrainResult,
    relative_path,
    save_trained,
)

ARCHITECTURE = "efficientnet_lite0"
CONSTANT_SPREAD = 1e-6  # out-of-fold scores spread less than this: the head says the same for every image
CHECK_IMAGES = 4  # images the saved Keras model is checked on against the head's own scores
MAX_CHECK_DIFF = 1e-3
VIEWS_AUC_TOLERANCE = 0.002  # fewer orientation views are kept when they lose no more out-of-fold ROC AUC


def train_pretrained(ws: Workspace, store: ModelStore, options: TrainOptions, listener: TrainingListener,
                     save_if_stopped: bool | Callable[[], bool] = False, name: str | None = None,
                     use_disk_cache: bool = True) -> TrainResult:
    t0 = time.perf_counter()
    if not tensorflow_available():
        import_tf()  # raises TensorFlowMissing with the install advice, as the reference preset does
    _backbone_or_error(weights_path)  # a missing backbone is said before anything runs
    with TensorFlowImport() as tf_import:
        listener.on_stage("Reading and decoding images")
        report = scan_workspace(ws, listener.on_decode_progress)
        report.require_trainable()
        counts = {"GO": report.count(0), "NG": report.count(1)}
        small = min(counts, key=counts.get)
        if counts[small] < options.folds:
            raise DatasetError(f"{counts[small]} {small} images are too few for the pretrained preset's "
                               f"{options.folds}-fold check of the threshold: add {small} images (at least "
                               f"{options.folds}) or train with the reference preset")
        given = parse_input_size(options.input_size)
        if given:
            (width, height), size_rule = given, "chosen"
        else:
            width, height, size_rule = size_by_rule(sample_sizes([r.path for r in report.images], options.seed))
        spec = PreprocessSpec(width=width, height=height, interpolation=options.interpolation)
        variants = feats.variants_for(len(report.images), width, height, options.orientation_variants)
        if options.fine_tune:
            fine_tuning.require_memory(len(report.images), variants, spec)
        cache = feats.FeatureCache(spec, ws.root / CACHE_DIR if use_disk_cache else None)
        listener.on_stage("Loading TensorFlow")
        tf_import.join()
    import_keras().utils.set_random_seed(options.seed)
    feature_model = _backbone_or_error(build_feature_model, height, width)
    listener.on_stage(f"Computing features ({width}x{height} px, {variants} orientation"
                      f"{'s' if variants > 1 else ''} per image)")
    progress = _FeatureProgress(listener)
    t_features = time.perf_counter()
    try:
        x, y, problems, computed = feats.compute_features(
            report.images, spec, variants, cache, lambda: _extractor(feature_model, cache),
            progress.on_progress, listener.should_stop)
    except feats.FeaturesStopped:
        cache.save()
        return TrainResult(None, [], 0, 0, time.perf_counter() - t0, True, problems=report.problems)
    feature_seconds = time.perf_counter() - t_features
    cache.save()
    problems = report.problems + problems
    for label, label_name in ((0, "GO"), (1, "NG")):
        if np.sum(y == label) < options.folds:
            raise DatasetError(f"too few readable {label_name} images for {options.folds}-fold training")
    views_auc: dict[str, float] = {}
    if options.orientation_variants == "auto" and variants > 1:
        listener.on_stage("Choosing how many orientations the model looks at")
        variants, views_auc = fewest_views(x, y, options)
    x_views = x
    x = x[:, :variants].mean(axis=1)  # N x D: each image's features averaged over its views, as the model does
    listener.on_stage("Training")
    history, oof, retries = _out_of_fold(x, y, options, listener, feature_model)
    frozen_oof = oof
    if len(history) < options.folds:  # stopped: without every fold's scores there is no honest threshold
        return TrainResult(None, history, len(history), 0, time.perf_counter() - t0, True, problems=problems)
    if float(np.std(oof)) < CONSTANT_SPREAD:
        raise TrainingError("the head gives every image the same score, so it cannot tell GO from NG: nothing was "
                            "saved. Check that the GO and NG folders hold what they should and that the images "
                            "are not blank or identical.")
    head, final_retry = _fit_safely(x, y)
    retries += final_retry
    kernel, bias = head.folded()
    records = [r for r in report.images if r.path not in {p.path for p in problems}]  # x's rows, in order
    want = head.scores(x[:CHECK_IMAGES])
    tuned, tuning_report = None, None
    if options.fine_tune:
        try:
            tuned = fine_tuning.fine_tune(
                records, spec, variants, x_views, y, fold_of(y, options.folds, options.seed),
                lambda: _conversion(cache, f"lower{fine_tune_nets.LOWER_TAP}", lambda: keras_to_tflite(
                    fine_tune_nets.build_lower_model(height, width))),
                listener, feature_model, options.seed, CHECK_IMAGES, len(history) + 1)
        except fine_tuning.FineTuneStopped:
            return TrainResult(None, history, len(history), 0, time.perf_counter() - t0, True, problems=problems)
        tuning_report = _tuning_report(tuned, y, frozen_oof)
        if tuning_report["kept"]:
            oof, kernel, bias, want = tuned.oof, tuned.kernel, tuned.bias, tuned.check_scores
            history = history + tuned.history  # the curves: the frozen head's folds, then the tuned ones
            set_pretrained_weights(feature_model, tuned.weights)
        else:
            listener.on_stage(tuning_report["why"])
            tuned = None
    listener.on_committed()
    listener.on_stage("Measuring on validation images")
    choice = choose_threshold(y, oof, options.target_ng_recall, options.max_false_reject,
                              scores_from=f"out-of-fold ({options.folds}-fold)")
    validation = compute_metrics(y, oof, choice.threshold).to_dict()
    model = build_classifier(feature_model, kernel, bias, variants)
    check = _check_model(model, records, spec, want)
    listener.on_stage("Saving model")  # before the TFLite model: its first conversion takes seconds
    # A tuned backbone is not the cached template's: save_trained converts the whole model.
    tflite = None if tuned else _station_tflite(feature_model, cache, variants, kernel, bias, check)
    recipe = {"input_size_used": f"{width}x{height}", "input_size_rule": size_rule, "orientation_variants_used":
              variants, "orientation_views_oof_auc": views_auc, "features_computed": computed,
              "features_cached": max(0, len(records) - computed),
              "feature_seconds": round(feature_seconds, 2),
              "feature_ms_per_image": round(1000 * feature_seconds / computed, 2) if computed else None,
              "head": {"kind": "logistic regression on standardised pooled features averaged over the orientation "
                       "variants (the model averages them too)", "class_weighting": "balanced",
                       "l2": SAFER["l2"] if final_retry else L2, "training_loss": head.loss},
              "retries": retries,
              "fine_tuned": tuning_report}
    metadata = _metadata(ws, report, options, spec, history, validation, choice, recipe, records, y, oof, name)
    info = save_trained(store, model, metadata, tflite=tflite)
    return TrainResult(info, history, len(history), len(history), time.perf_counter() - t0, False, validation,
                       problems, choice)


def tuning_helped(tuned_auc: float, frozen_auc: float) -> bool:
    """Fine-tuning is kept only when it ranks the images it never trained on at least as well as the frozen
    head did (same folds, so a fair comparison): minutes of tuning never make a worse model."""
    return tuned_auc >= frozen_auc


def _tuning_report(tuned: fine_tuning.FineTuned, y: np.ndarray, frozen_oof: np.ndarray) -> dict:
    tuned_auc, frozen_auc = roc_auc(y, tuned.oof) or 0.0, roc_auc(y, frozen_oof) or 0.0
    kept = tuning_helped(tuned_auc, frozen_auc)
    report = {"blocks": list(fine_tune_nets.TUNED_BLOCKS), "epochs": tuned.epochs,
              "learning_rate": fine_tuning.LEARNING_RATE, "batch_size": fine_tuning.BATCH,
              "batch_norm": "ImageNet statistics, frozen", "seconds": round(tuned.seconds, 1),
              "oof_auc": round(tuned_auc, 4), "frozen_head_oof_auc": round(frozen_auc, 4), "kept": kept}
    if not kept:
        report["why"] = (f"Fine-tuning did not help on images it never trained on (out-of-fold ROC AUC "
                         f"{tuned_auc:.4f}, frozen features {frozen_auc:.4f}): the model with the frozen backbone "
                         f"is saved")
    return report


def _backbone_or_error(fn, *args):
    try:
        return fn(*args)
    except BackboneError as exc:
        raise TrainingError(f"{exc}. Nothing was trained.") from None


class _FeatureProgress:
    def __init__(self, listener: TrainingListener):
        self.listener = listener
        self.t0 = time.perf_counter()

    def on_progress(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.t0, 1e-6)
        self.listener.on_batch(BatchProgress(1, 1, done, total, done, total, rate,
                                             (total - done) / rate if rate else 0.0))


_converted: dict[str, bytes] = {}  # this process's TFLite conversions, by name and cache key (the last few)
KEEP_CONVERSIONS = 4


def _conversion(cache: feats.FeatureCache, name: str, convert: Callable[[], bytes]) -> bytes:
    """A TFLite conversion of a network for this preprocessing: from this process, the workspace's cache or
    the user's (same key: same network, same input), else converted now (seconds) and kept in both."""
    key = f"{name}-{cache.key}"
    tflite = _converted.get(key)
    if tflite is None:
        tflite = cache.load_tflite(name)
        if tflite is None or not conversion_cache.opens(tflite):  # missing or damaged: replaced
            tflite = conversion_cache.load_conversion(key)
            if tflite is None:
                tflite = convert()
                conversion_cache.keep_conversion(key, tflite)
            cache.save_tflite(tflite, name)
    if len(_converted) >= KEEP_CONVERSIONS and key not in _converted:
        _converted.pop(next(iter(_converted)))
    _converted[key] = tflite
    return tflite


def _extractor(feature_model, cache: feats.FeatureCache):
    """LiteRT on the feature model's TFLite."""
    return feats.LiteRTFeatures(_conversion(cache, "backbone", lambda: keras_to_tflite(feature_model)))


def _template(feature_model, cache: feats.FeatureCache, variants: int) -> bytes:
    """The classifier's TFLite with the template head: with one view, the feature network's TFLite (the one
    that computed the features) with the head appended; with more, converted once per input size and views."""
    if variants == 1:
        return _conversion(cache, "classifier-1", lambda: classifier_tflite.append_head(
            _conversion(cache, "backbone", lambda: keras_to_tflite(feature_model))))
    return _conversion(cache, f"classifier-{variants}", lambda: keras_to_tflite(
        classifier_tflite.template_model(feature_model, variants)))


def _station_tflite(feature_model, cache: feats.FeatureCache, variants: int, kernel: np.ndarray, bias: float,
                    check: tuple[np.ndarray, np.ndarray]) -> bytes | None:
    """model.tflite: the classifier converted once per input size and views with a template head, this run's
    head written in (classifier_tflite.py), proven on the check images; None (save_trained converts the
    model itself) when the template cannot be had or the copy disagrees with the head."""
    try:
        tflite = classifier_tflite.with_head(_template(feature_model, cache, variants), kernel, bias)
        batch, want = check
        got = LiteRTBackend(None, content=tflite)(batch)
    except Exception:  # noqa: BLE001 - the full conversion in save_trained still makes (or reports) the file
        return None
    return tflite if float(np.max(np.abs(got - want))) <= MAX_CHECK_DIFF else None


def _fit_safely(rows: np.ndarray, labels: np.ndarray) -> tuple[LinearHead, list[dict]]:
    """fit_head; after a NaN/infinite loss once more at the safer setting, then a TrainingError."""
    try:
        return fit_head(rows, labels), []
    except HeadFailed as exc:
        first = str(exc)
    try:
        return fit_head(rows, labels, **SAFER), [{"reason": first, "retried_with": SAFER}]
    except HeadFailed as exc:
        raise TrainingError(f"training the head failed twice ({first}; then {exc}): nothing was saved. Check that "
                            f"the images are readable photos of the parts.") from None


def fold_of(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each image's fold (0..folds-1), stratified per class, reproducible for a seed."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), np.int64)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        out[idx[rng.permutation(len(idx))]] = np.arange(len(idx)) % folds
    return out


def fewest_views(x: np.ndarray, y: np.ndarray, options: TrainOptions) -> tuple[int, dict[str, float]]:
    """How many of the computed orientation views (1, 2, 4, ... x.shape[1]) the model averages: the fewest
    whose out-of-fold ROC AUC is within VIEWS_AUC_TOLERANCE of the best. Each view is one more backbone run
    per frame at the station, so a part that looks the same however it lies gets one view (fast), and a part
    that needs the turns to be judged (a screw in any rotation) gets them all. Heads only: the features are
    already computed, so this costs a fraction of a second."""
    fold = fold_of(y, options.folds, options.seed)
    aucs: dict[int, float] = {}
    count = 1
    while count <= x.shape[1]:
        rows = x[:, :count].mean(axis=1)
        oof = np.zeros(len(y), np.float64)
        for k in range(options.folds):
            try:
                head, _ = _fit_safely(rows[fold != k], y[fold != k])
            except TrainingError:  # this many views cannot be judged; the others still can
                break
            oof[fold == k] = head.scores(rows[fold == k])
        else:
            aucs[count] = roc_auc(y, oof) or 0.0
        count *= 2
    if not aucs:
        return x.shape[1], {}
    best = max(aucs.values())
    chosen = min(c for c, auc in aucs.items() if auc >= best - VIEWS_AUC_TOLERANCE)
    return chosen, {str(c): round(auc, 4) for c, auc in aucs.items()}


def _out_of_fold(x: np.ndarray, y: np.ndarray, options: TrainOptions, listener: TrainingListener, model
                 ) -> tuple[list[EpochMetrics], np.ndarray, list[dict]]:
    """Scores of every image by the head trained without it (x: N x D, the features the saved model computes)."""
    fold = fold_of(y, options.folds, options.seed)
    oof = np.zeros(len(y), np.float64)
    history: list[EpochMetrics] = []
    retries: list[dict] = []
    for k in range(options.folds):
        start = time.perf_counter()
        train, held = fold != k, fold == k
        head, retry = _fit_safely(x[train], y[train])
        retries += retry
        oof[held] = head.scores(x[held])
        fit_p = head.scores(x[train])
        m = EpochMetrics(k + 1, cross_entropy(y[train], fit_p), float(np.mean((fit_p >= 0.5) == (y[train] > 0.5))),
                         cross_entropy(y[held], oof[held]), float(np.mean((oof[held] >= 0.5) == (y[held] > 0.5))),
                         time.perf_counter() - start)
        history.append(m)
        listener.on_epoch(m, model)
        if listener.should_stop():
            break
    return history, oof.astype(np.float32), retries



def _check_model(model, records, spec: PreprocessSpec, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The assembled Keras model must give what training gave (the head on the cached features, or the
    fine-tuned network) on the first images: a guard against a mismatch between the cached features and the
    saved network. Returns the check images and those scores."""
    pick = list(range(min(CHECK_IMAGES, len(records))))
    batch = np.stack([load_for_model(records[i].path, spec) for i in pick])
    got = import_keras().ops.convert_to_numpy(model(batch, training=False)).reshape(-1)
    want = np.asarray(want)[:len(pick)]
    diff = float(np.max(np.abs(got - want)))
    if not diff <= MAX_CHECK_DIFF:
        raise TrainingError(f"the assembled model disagrees with its trained head by {diff:.2g} on the training "
                            f"images (the feature cache may be stale: delete {CACHE_DIR} in the workspace and "
                            f"train again). Nothing was saved.")
    return batch, want


def _metadata(ws: Workspace, report, options: TrainOptions, spec: PreprocessSpec, history, validation: dict,
              choice, recipe: dict, records, y: np.ndarray, oof: np.ndarray, name: str | None) -> dict:
    tf = import_tf()
    keras = import_keras()
    counts = {"GO": int(np.sum(y == 0)), "NG": int(np.sum(y == 1))}
    return {
        "name": name, "created": now_iso(), "source": "trained",
        "app_version": __version__, "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
        "architecture": ARCHITECTURE, "preset": "pretrained",
        "backbone": {"name": "EfficientNet-Lite0", "weights": f"ImageNet ({DISTRIBUTION} {VERSION})",
                     "sha256": SHA256, "frozen": not (recipe["fine_tuned"] or {}).get("kept"),
                     "features": f"max and mean of blocks {list(TAP_BLOCKS)}, max of blocks "
                                 f"{list(MAX_TAP_BLOCKS)}, averaged over the orientation variants",
                     "feature_dim": feature_dim()},
        "class_mapping": ws.mapping.to_dict(),
        "preprocessing": spec.to_dict(),
        "input_size": [spec.height, spec.width, 3],
        "threshold": choice.threshold,
        "threshold_rule": {"target_ng_recall": options.target_ng_recall, "max_false_reject": options.max_false_reject,
                           "on": choice.scores, "max": 0.5},
        "threshold_choice": choice.to_dict(),
        "training": {**asdict(options), **recipe, "best_epoch": len(history), "stopped_by_user": False},
        "dataset": {
            "root": str(ws.root), "fingerprint": report.fingerprint(),
            # Every image trains the final head and is scored out of fold for validation.
            "counts": {"train": counts, "val": counts},
            "validation": f"out-of-fold scores, {options.folds} folds",
            "skipped_files": len(report.problems), "duplicate_groups": len(report.duplicates),
        },
        "history": [m.to_dict() for m in history],
        "validation": validation,
        "validation_files": [{"path": relative_path(r.path, ws.root), "label": int(label),
                              "oof_p_ng": round(float(s), 6)} for r, label, s in zip(records, y, oof)],
    }
