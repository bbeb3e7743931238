"""Anomaly-mode benchmark: models trained on good parts only, measured on test images they never saw, at the
threshold chosen from good images alone.

usage: python bench/anomaly.py [--datasets bottle,screw,bottle_224] [--method padim|patchcore] [--split-seed 0]
                               [--frames 200]
- bottle:     ../shared/datasets/bottle: train/GO (209 good) to fit; test/GO (20) + test/NG (63) to measure
- screw:      ../shared/datasets/screw (250 GO / 50 NG): a seeded 80 % of the GO to fit; the other 20 % of
              the GO and every NG to measure
- bottle_224: the bottles again at a 224x224 input (the station's frame-rate target is at 224 px)
Each dataset runs in its own process (fit -> model store -> LiteRT Predictor), so peak_mb is that run's peak
resident memory, TensorFlow included. The images are read where they are; nothing is copied.
Per dataset: auroc, accuracy / ng_recall / false_reject_rate at the stored threshold, fit_s (files on disk ->
saved model, TensorFlow's import included), peak_mb (the fit's peak resident memory, TensorFlow included),
station_fps (one frame at a time at the image's own size: preprocess + model + the heat map drawn over the
frame), station_ms_p50 and station_peak_mb. Evaluation and the station run in a fresh process without
TensorFlow, as at a station.
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "datasets"
DATASETS = ("bottle", "screw", "bottle_224")
TARGETS = {"bottle": "auroc >= 0.99, accuracy >= 0.95", "screw": "auroc >= 0.95",
           "bottle_224": "station_fps >= 60 at 224 px", "all": "fit_s <= 60 on ~200 good, peak_mb <= 2048"}


def _images(folder: Path) -> list[Path]:
    from fanqc_gui.core.dataset.scan import list_images

    return list_images(folder)


def split(name: str, seed: int) -> tuple[list[Path], list[Path], list[Path]]:
    """(GO to fit, GO to test, NG to test)."""
    if name.startswith("bottle"):
        root = DATA / "bottle"
        return _images(root / "train" / "GO"), _images(root / "test" / "GO"), _images(root / "test" / "NG")
    root = DATA / "screw"
    go = _images(root / "GO")
    order = np.random.default_rng(seed).permutation(len(go))
    n_fit = round(0.8 * len(go))
    return [go[i] for i in sorted(order[:n_fit])], [go[i] for i in sorted(order[n_fit:])], _images(root / "NG")


def run_one(name: str, method: str, seed: int, frames: int) -> dict:
    """Fit and save in this process (TensorFlow loaded); evaluate and judge in a fresh one without it, as a
    station or the lean install would."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    t0 = time.perf_counter()
    from fanqc_gui.core.models.anomaly.options import AnomalyOptions
    from fanqc_gui.core.models.model_store import ModelStore
    from fanqc_gui.core.tf_runtime import import_keras
    from fanqc_gui.core.training.anomaly_training import anomaly_metadata, fit_anomaly, save_anomaly

    import_keras()
    fit_go, _, _ = split(name, seed)
    options = AnomalyOptions(method=method, seed=0, input_size="224" if name.endswith("_224") else "auto")
    fit = fit_anomaly(fit_go, [], options)
    with tempfile.TemporaryDirectory() as tmp:
        info = save_anomaly(ModelStore(tmp), fit, anomaly_metadata(fit, options, f"bench {name}"))
        fit_s = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cmd = [sys.executable, __file__, "--judge", str(info.folder), "--one", name, "--split-seed", str(seed),
               "--frames", str(frames)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        judged = json.loads(proc.stdout.strip().splitlines()[-1])
        size = os.path.getsize(info.tflite_path)
    return {"method": method, "input": fit.recipe["input_size_used"], "fit_images": len(fit.go_paths), **judged,
            "held_out_false_reject": round(fit.choice.false_reject_rate, 4), "fit_s": round(fit_s, 1),
            "fit_stages_s": fit.timings, "peak_mb": round(peak_mb), "tflite_mb": round(size / 1e6, 1),
            "target": TARGETS.get(name, "")}


def _peak_mb() -> int:
    """This process's peak resident memory (VmHWM: ru_maxrss would count the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def judge(folder: str, name: str, seed: int, frames: int) -> dict:
    """Test images through the Predictor (LiteRT), then the station loop on frames at their own size."""
    from fanqc_gui.core.imaging import decode_image, preprocess
    from fanqc_gui.core.models.anomaly.heat_map import overlay
    from fanqc_gui.core.models.evaluation import compute_metrics
    from fanqc_gui.core.models.inference import Predictor
    from fanqc_gui.core.models.model_store import ModelStore

    _, test_go, test_ng = split(name, seed)
    info = ModelStore(Path(folder).parent).get(Path(folder))
    predictor = Predictor(info, backend="station")
    preds = predictor.predict_paths(test_go + test_ng)
    labels = [0] * len(test_go) + [1] * len(test_ng)
    metrics = compute_metrics(labels, [p.p_ng for p in preds], info.threshold)
    bgr = [decode_image(p) for p in (test_ng[:10] + test_go[:10])]
    times = []
    for i in range(frames + 5):
        frame = bgr[i % len(bgr)]
        start = time.perf_counter()
        p = float(predictor.p_ng_batch(preprocess(frame, predictor.spec)[None])[0])
        drawn = overlay(frame, predictor.last_maps()[0], predictor.threshold)
        if i >= 5:  # warm-up left out
            times.append(time.perf_counter() - start)
        assert drawn.shape == frame.shape and 0.0 <= p <= 1.0
    assert "tensorflow" not in sys.modules
    return {"test_images": {"GO": len(test_go), "NG": len(test_ng)},
            "auroc": round(metrics.roc_auc, 4) if metrics.roc_auc is not None else None,
            "accuracy": round(metrics.accuracy, 4), "ng_recall": round(metrics.ng_recall, 4),
            "false_reject_rate": round(metrics.false_reject_rate, 4), "threshold": round(info.threshold, 4),
            "station_fps": round(1.0 / float(np.mean(times)), 1),
            "station_ms_p50": round(1000 * float(np.median(times)), 2),
            "station_peak_mb": _peak_mb(),
            "frame": f"{bgr[0].shape[1]}x{bgr[0].shape[0]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--method", default="padim", choices=("padim", "patchcore"))
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--judge", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.judge:
        print(json.dumps(judge(args.judge, args.one, args.split_seed, args.frames)))
        return
    if args.one:
        print(json.dumps(run_one(args.one, args.method, args.split_seed, args.frames)))
        return
    results = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if name not in DATASETS:
            raise SystemExit(f"unknown dataset {name!r}: use {', '.join(DATASETS)}")
        cmd = [sys.executable, __file__, "--one", name, "--method", args.method, "--split-seed",
               str(args.split_seed), "--frames", str(args.frames)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            results[name] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
