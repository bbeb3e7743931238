"""Anomaly training: the GO folder alone -> patch features (LiteRT) -> PaDiM statistics or a PatchCore bank
-> a threshold from held-out good parts -> ONE model in the store, image -> (score, map).

1. Scan; at least MIN_GO_IMAGES readable GO images. NG images, when present, never train: they only move the
   threshold towards the NG recall target and show in the report how many defects are caught.
2. Input size by rule (options.size_by_rule: short side 320 px, the images' aspect ratio) or as given; it is
   the model's preprocessing spec, so every later use resizes alike. Mixed image sizes are resized to it.
3. Patch features of every GO image (features.py), a seeded subset of the channels.
4. Fit. PaDiM gives each GO image's leave-one-out scores exactly (padim.py); PatchCore scores held-out folds.
5. The raw threshold: a high quantile of the held-out GO scores (1 - max_false_reject / 2 unless chosen) plus
   a margin; scores are normalised so that it is 0.5 (models/anomaly/calibration.py). With NG:
   models/anomaly/threshold.py moves it. The NG images are scored by the saved model itself (its TFLite),
   and the TFLite is checked against the trainer's own scores on GO images.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fanqc_gui import __version__
from fanqc_gui.core.dataset.decode_cache import CACHE_DIR
from fanqc_gui.core.dataset.scan import DatasetError, Problem, scan_workspace
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.imaging import PreprocessSpec, to_model_input
from fanqc_gui.core.models.anomaly import KIND, calibration
from fanqc_gui.core.models.anomaly.features import ExtractionStopped, extract, feature_tflite, load_pixels
from fanqc_gui.core.models.anomaly.network import LOCAL_POOL, STRIDE, TAP_BLOCKS, grid_size, tap_channels
from fanqc_gui.core.models.anomaly.options import (
    MIN_GO_IMAGES,
    AnomalyOptions,
    channel_subset,
    channels_for,
    size_by_rule,
)
from fanqc_gui.core.models.anomaly.padim import EPSILON, FitStopped, fit_padim, padim_distances
from fanqc_gui.core.models.anomaly.patchcore import fit_patchcore, patchcore_distances
from fanqc_gui.core.models.anomaly.threshold import choose_anomaly_threshold
from fanqc_gui.core.models.evaluation import compute_metrics
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore, now_iso
from fanqc_gui.core.models.threshold_choice import ThresholdChoice
from fanqc_gui.core.training.training_run import (
    BatchProgress,
    TensorFlowImport,
    TrainingError,
    TrainingListener,
    TrainResult,
    relative_path,
)

CHECK_IMAGES = 8  # GO images the saved model is checked on against the trainer's scores
MAX_CHECK_DIFF = 0.01  # normalised score (measured: ~1e-5; features kept as float16 on large sets add ~1e-3)
MAX_BATCH = 8  # images per model call (the station: 1): bounds the model's intermediate maps
NG_BATCH = 4


@dataclass
class AnomalyFit:
    """Everything a fit produced, before it is saved."""

    model: object  # the Keras model
    tflite: bytes
    spec: PreprocessSpec
    method: str
    choice: ThresholdChoice
    validation: dict
    go_paths: list[Path]  # the GO images trained on
    held_out: list[tuple[Path, float]]  # GO images scored as new parts: (path, normalised score)
    ng_scores: list[tuple[Path, float]]  # NG images, scored by the saved model
    problems: list[Problem]
    recipe: dict
    anomaly: dict  # the metadata's "anomaly" section
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)


class _Stages:
    def __init__(self, listener: TrainingListener):
        self.listener = listener
        self.t0 = self.mark = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.current: str | None = None

    def stage(self, key: str, text: str) -> None:
        self._close()
        self.current = key
        self.listener.on_stage(text)

    def _close(self) -> None:
        now = time.perf_counter()
        if self.current:
            self.timings[self.current] = round(now - self.mark, 2)
        self.mark = now

    def done(self) -> dict:
        self._close()
        self.current = None
        return self.timings

    def progress(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.mark, 1e-6)
        self.listener.on_batch(BatchProgress(1, 1, done, total, done, total, rate,
                                             (total - done) / rate if rate else 0.0))


def train_anomaly(ws: Workspace, store: ModelStore, options: AnomalyOptions | None = None,
                  listener: TrainingListener | None = None, name: str | None = None,
                  use_disk_cache: bool = True) -> TrainResult:
    """Train an anomaly model on the workspace's GO images and save it into the store (never activating it).
    Stopped (listener.should_stop): nothing is saved and the result's model is None."""
    options = options or AnomalyOptions()
    options.validate()
    listener = listener or TrainingListener()
    t0 = time.perf_counter()
    _require_backbone()
    with TensorFlowImport() as tf_import:
        listener.on_stage("Reading images")
        report = scan_workspace(ws, listener.on_decode_progress)
        go = [r.path for r in report.images if r.label == 0]
        ng = [r.path for r in report.images if r.label == 1]
        require_go_images(len(go), ws.go_dir)
        tf_import.join()
    fit = fit_anomaly(go, ng, options, listener, ws.root / CACHE_DIR if use_disk_cache else None)
    problems = report.problems + (fit.problems if fit else [])
    if fit is None:
        return TrainResult(None, [], 0, 0, time.perf_counter() - t0, True, problems=problems)
    listener.on_committed()
    listener.on_stage("Saving model")
    metadata = anomaly_metadata(fit, options, name, root=ws.root, class_mapping=ws.mapping.to_dict(),
                                fingerprint=report.fingerprint(), skipped=len(problems),
                                duplicates=len(report.duplicates))
    info = save_anomaly(store, fit, metadata)
    return TrainResult(info, [], 0, 0, time.perf_counter() - t0, False, fit.validation, problems, fit.choice)


def _require_backbone() -> None:
    """The pinned ImageNet weights, read and checked (once per process), or one message before anything runs."""
    from fanqc_gui.core.models.backbone.weights import BackboneError, pretrained_weights

    try:
        pretrained_weights()
    except BackboneError as exc:
        raise TrainingError(f"{exc}. Nothing was trained.") from None


def require_go_images(count: int, folder: Path) -> None:
    if count == 0:
        raise DatasetError(f"no GO images in {folder}: anomaly training learns from good parts; add at least "
                           f"{MIN_GO_IMAGES} photos of good parts there")
    if count < MIN_GO_IMAGES:
        raise DatasetError(f"only {count} usable GO image(s) in {folder}: anomaly training needs at least "
                           f"{MIN_GO_IMAGES} good parts (a few hundred describe 'good' best)")


def fit_anomaly(go_paths: Sequence[Path], ng_paths: Sequence[Path], options: AnomalyOptions,
                listener: TrainingListener | None = None, cache_dir: Path | None = None) -> AnomalyFit | None:
    """Fit on go_paths, calibrate with ng_paths (may be empty). None when stopped by the listener."""
    from fanqc_gui.core.models.anomaly.model import build_anomaly_model, stored, to_tflite
    from fanqc_gui.core.models.backbone.input_size import parse_input_size, sample_sizes
    from fanqc_gui.core.models.backends import LiteRTBackend

    options.validate()
    listener = listener or TrainingListener()
    stages = _Stages(listener)
    t0 = time.perf_counter()
    go_paths, ng_paths = [Path(p) for p in go_paths], [Path(p) for p in ng_paths]
    given = parse_input_size(options.input_size)
    if given:
        (width, height), size_rule = given, "chosen"
    else:
        width, height, size_rule = size_by_rule(sample_sizes(go_paths, options.seed))
    spec = PreprocessSpec(width=width, height=height, interpolation=options.interpolation)
    n_channels, channels_rule = channels_for(options, width, height)
    channels = channel_subset(n_channels, options.seed)
    cols, rows = grid_size(width, height)
    _require_backbone()
    stages.stage("feature_model", f"Preparing the feature network ({width}x{height} px)")
    tflite_features = feature_tflite(spec, cache_dir)
    stages.stage("features", f"Computing patch features of {len(go_paths)} GO images")
    try:
        features, go_kept, problems = extract(go_paths, spec, tflite_features, channels, stages.progress,
                                              listener.should_stop)
    except ExtractionStopped:
        return None
    require_go_images(len(go_kept), go_paths[0].parent if go_paths else Path("GO"))
    stages.stage("fit", f"Fitting {'PaDiM' if options.method == 'padim' else 'PatchCore'} on {len(go_kept)} "
                        f"good parts")
    kernel = calibration.gaussian_kernel()
    # Training images the saved model is checked on: the trainer's own distances for them are kept.
    pick = np.unique(np.linspace(0, len(go_kept) - 1, min(CHECK_IMAGES, len(go_kept))).round().astype(int))
    try:
        if options.method == "padim":
            stats = fit_padim(features, EPSILON, stages.progress, listener.should_stop, inverse=_tf_inverse())
            stats.mean, stats.precision = stored(stats.mean), stored(stats.precision)
            constants = {"mean": stats.mean, "precision": stats.precision}
            held_ids, held_maps = np.arange(len(go_kept)), stats.loo
            check_maps = padim_distances(stats, features[pick])
            del stats
            held_rule = "leave-one-out (exact for PaDiM)"
            method_info = {"epsilon": EPSILON}
        else:
            pc = fit_patchcore(features, options.coreset_ratio, options.max_bank, options.folds, options.seed,
                               stages.progress, listener.should_stop)
            constants = {"bank": stored(pc.bank)}
            held_ids, held_maps = pc.held_out_images, pc.held_out
            check_maps = patchcore_distances(constants["bank"], features[pick].astype(np.float32))
            held_rule = f"{options.folds} folds, each scored against the bank chosen without it"
            method_info = {"bank_size": len(pc.bank), "coreset_ratio_used": pc.ratio_used,
                           "coreset": "greedy k-centre in chunks, on a 32-dim random projection"}
            del pc
    except FitStopped:
        return None
    except (MemoryError, np.linalg.LinAlgError) as exc:
        raise TrainingError(f"the fit failed ({type(exc).__name__}: {exc}): try fewer channels or a smaller "
                            f"input size") from None
    grid = (len(held_ids), rows, cols)
    held_raw = calibration.image_scores(held_maps.reshape(grid), kernel)
    if not np.all(np.isfinite(held_raw)) or float(np.max(held_raw)) <= 0:
        raise TrainingError("the good parts' scores are not finite numbers: check that the GO images are photos "
                            "of parts (not blank or identical)")
    scale = calibration.raw_threshold(held_raw, options.quantile_used(), options.margin)
    slope = calibration.slope_for(held_raw, scale)
    held_scores = calibration.normalise(held_raw, slope, scale)
    del features, tflite_features  # the model's constants and the conversion take their place
    stages.stage("export", "Building and converting the model")
    model = build_anomaly_model(width, height, options.method, channels, constants, kernel, slope, scale)
    del constants
    tflite = to_tflite(model)
    runner = LiteRTBackend(None, content=tflite)
    stages.stage("check", "Checking the saved model against the trainer's scores")
    check = _check_against_trainer(runner, [go_kept[i] for i in pick], spec, check_maps, (rows, cols), kernel,
                                   slope, scale)
    ng_scored: list[tuple[Path, float]] = []
    if ng_paths:
        stages.stage("ng", f"Scoring {len(ng_paths)} NG images with the saved model")
        ng_scored, ng_problems = _score_paths(runner, ng_paths, spec, stages.progress)
        problems += ng_problems
    del runner
    scores_from = "held-out"
    choice = choose_anomaly_threshold(held_scores, np.array([s for _, s in ng_scored]), options.target_ng_recall,
                                      options.max_false_reject, scores_from)
    labels = np.r_[np.zeros(len(held_scores)), np.ones(len(ng_scored))]
    validation = compute_metrics(labels, np.r_[held_scores, [s for _, s in ng_scored]], choice.threshold).to_dict()
    timings = stages.done()
    recipe = {"input_size_used": f"{width}x{height}", "input_size_rule": size_rule, "channels_used": n_channels,
              "channels_rule": channels_rule, "held_out_rule": held_rule, "timings_s": timings}
    anomaly = {
        "method": options.method, "taps": list(TAP_BLOCKS), "local_pool": LOCAL_POOL, "stride": STRIDE,
        "grid": [rows, cols], "channels": channels, "tap_channels": tap_channels(), **method_info,
        "smooth_sigma": calibration.SMOOTH_SIGMA, "raw_threshold": scale, "slope": slope,
        "normalisation": "score = sigmoid(slope * ln(distance / raw_threshold)); 0.5 at raw_threshold",
        "threshold_from_good": {"quantile": options.quantile_used(), "margin": options.margin,
                                "held_out_images": len(held_raw),
                                "raw_median": float(np.median(held_raw)), "raw_max": float(np.max(held_raw))},
        "outputs": {"score": "the one value per image (>= threshold: NG)",
                    "map": "rows x cols per image, the same scale: >= threshold marks where the part differs"},
        "check": check,
    }
    return AnomalyFit(model, tflite, spec, options.method, choice, validation, go_kept,
                      [(go_kept[i], float(s)) for i, s in zip(held_ids, held_scores)], ng_scored, problems, recipe,
                      anomaly, time.perf_counter() - t0, timings)


def _score_paths(runner, paths: Sequence[Path], spec: PreprocessSpec, progress=None
                 ) -> tuple[list[tuple[Path, float]], list[Problem]]:
    scored: list[tuple[Path, float]] = []
    problems: list[Problem] = []
    for start in range(0, len(paths), NG_BATCH):
        chunk = paths[start:start + NG_BATCH]
        pixels = [(p, load_pixels(p, spec)) for p in chunk]
        problems += [Problem(p, px) for p, px in pixels if isinstance(px, str)]
        good = [(p, px) for p, px in pixels if not isinstance(px, str)]
        if good:
            scores = runner(to_model_input(np.stack([px for _, px in good])))
            scored += [(p, float(s)) for (p, _), s in zip(good, scores)]
        if progress:
            progress(min(start + NG_BATCH, len(paths)), len(paths))
    return scored, problems


def _tf_inverse():
    from fanqc_gui.core.tf_runtime import import_tf

    tf = import_tf()
    return lambda m: tf.linalg.inv(tf.constant(m)).numpy()


def _check_against_trainer(runner, paths: list[Path], spec: PreprocessSpec, maps: np.ndarray,
                           grid: tuple[int, int], kernel: np.ndarray, slope: float, scale: float) -> dict:
    """The exported model must score training images as the trainer's own statistics do (PaDiM: the full
    fit's distances; PatchCore: the bank's): a guard against any mismatch between the fitted numbers and the
    saved network, so the station's scores are the trainer's."""
    want = calibration.normalise(calibration.image_scores(maps.reshape(len(paths), *grid), kernel), slope, scale)
    got, _ = _score_paths(runner, paths, spec)
    got_scores = np.array([s for _, s in got])
    diff = float(np.max(np.abs(got_scores - want))) if len(got_scores) == len(want) else float("inf")
    if not diff <= MAX_CHECK_DIFF:
        raise TrainingError(f"the exported model disagrees with the trainer by {diff:.3g} on the training images: "
                            f"nothing was saved. Delete {CACHE_DIR} in the workspace and train again.")
    return {"images": len(paths), "max_abs_diff": diff}


def anomaly_metadata(fit: AnomalyFit, options: AnomalyOptions, name: str | None, root: Path | None = None,
                     class_mapping: dict | None = None, fingerprint: str | None = None, skipped: int = 0,
                     duplicates: int = 0) -> dict:
    from fanqc_gui.core.models.backbone.weights import DISTRIBUTION, SHA256, VERSION
    from fanqc_gui.core.tf_runtime import import_keras, import_tf

    def rel(p: Path) -> str:
        return relative_path(p, root) if root is not None else str(p)

    n_ng = len(fit.ng_scores)
    return {
        "name": name, "created": now_iso(), "source": "trained", "kind": KIND, "method": fit.method,
        "app_version": __version__, "tensorflow_version": import_tf().__version__,
        "keras_version": import_keras().__version__,
        "architecture": f"efficientnet_lite0_{fit.method}", "preset": "anomaly",
        "backbone": {"name": "EfficientNet-Lite0", "weights": f"ImageNet ({DISTRIBUTION} {VERSION})",
                     "sha256": SHA256, "frozen": True, "features": f"blocks {list(TAP_BLOCKS)}, 3x3 mean, 1/8 grid"},
        "class_mapping": class_mapping or {},
        "preprocessing": fit.spec.to_dict(),
        "input_size": [fit.spec.height, fit.spec.width, 3],
        "threshold": fit.choice.threshold,
        "threshold_rule": {"from_good": f"quantile {options.quantile_used():g} of held-out GO scores + "
                                        f"{options.margin:.0%}",
                           "target_ng_recall": options.target_ng_recall, "max_false_reject": options.max_false_reject,
                           "on": fit.choice.scores},
        "threshold_choice": fit.choice.to_dict(),
        "anomaly": fit.anomaly,
        "max_batch": MAX_BATCH,
        "training": {**options.to_dict(), **fit.recipe, "seconds": round(fit.seconds, 2), "stopped_by_user": False},
        "dataset": {
            "root": str(root) if root is not None else None, "fingerprint": fingerprint,
            "counts": {"train": {"GO": len(fit.go_paths), "NG": 0},
                       "val": {"GO": len(fit.held_out), "NG": n_ng}},
            "validation": "held-out scores of good parts; NG images (never trained on) scored by the saved model",
            "skipped_files": skipped, "duplicate_groups": duplicates,
        },
        "history": [],
        "validation": fit.validation,
        "validation_files": [{"path": rel(p), "label": 0, "oof_p_ng": round(s, 6)} for p, s in fit.held_out]
        + [{"path": rel(p), "label": 1, "oof_p_ng": round(s, 6)} for p, s in fit.ng_scores],
    }


def save_anomaly(store: ModelStore, fit: AnomalyFit, metadata: dict) -> ModelInfo:
    try:
        return store.save(fit.model, metadata, fit.tflite)
    except OSError as exc:
        raise TrainingError(f"cannot save the model in {store.root}: {exc.strerror or exc} "
                            f"(nothing was changed in the store)") from None
