"""Workspace-wide prediction benchmark: the insight page's "Predict workspace" on 5,000 images.

usage: python bench/predict_workspace.py [--images 5000] [--workspace DIR] [--model MODEL_DIR] [--cores 2]

Without --workspace, a demo workspace of --images 128x128 JPEGs (GO, NG and inbox) is generated in a
temporary folder first (about 6 ms per image; not timed). Without --model, an untrained reference CNN at
80x80 is exported to a temporary model store (speed does not depend on the weights). The timed part is
exactly what the page runs: a PredictionWorker thread (LiteRT predictor created on it, every file listed,
decoded, preprocessed and predicted, rows built) until its result reaches the GUI thread. The process is
pinned to --cores CPUs. Goal: <= 15 s for 5,000 images on 2 cores. Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

GOAL_S = 15.0


def pin_cores(n: int) -> int:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:max(1, n)]
        os.sched_setaffinity(0, cpus)
        return len(cpus)
    return os.cpu_count() or 1


def make_workspace(root: Path, images: int):
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    inbox = max(0, images // 12)
    per_class = (images - inbox) // 2
    inbox = images - 2 * per_class
    t0 = time.perf_counter()
    generate_demo_workspace(root, per_class=per_class, inbox=inbox)
    print(f"generated {images} demo images in {time.perf_counter() - t0:.1f} s (not timed)", file=sys.stderr)


def make_model(store_root: Path):
    from fanqc_gui import __version__
    from fanqc_gui.core.dataset.workspace import ClassMapping
    from fanqc_gui.core.imaging import PreprocessSpec
    from fanqc_gui.core.models.architecture import build_reference_cnn
    from fanqc_gui.core.models.export import keras_to_tflite
    from fanqc_gui.core.models.model_store import ModelStore

    model = build_reference_cnn(80)
    spec = PreprocessSpec(width=80, height=80)
    metadata = {"name": "bench reference CNN (untrained)", "source": "bench", "app_version": __version__,
                "architecture": "reference_cnn", "class_mapping": ClassMapping().to_dict(),
                "preprocessing": spec.to_dict(), "input_size": [80, 80, 3], "threshold": 0.5,
                "threshold_rule": {"source": "bench"}}
    return ModelStore(store_root).save(model, metadata, keras_to_tflite(model))


def run_like_the_page(workspace, info):
    """Start a PredictionWorker and wait (in a Qt event loop) for its result on this, the GUI, thread."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    from fanqc_gui.workers.prediction_worker import PredictionWorker

    _app = QCoreApplication.instance() or QCoreApplication([])  # held while the loop runs
    loop = QEventLoop()
    out = {}
    worker = PredictionWorker(workspace, info)
    worker.predictions_ready.connect(lambda result: out.update(result=result))
    worker.prediction_failed.connect(lambda message: out.update(error=message))
    worker.run_ended.connect(loop.quit)
    t0 = time.perf_counter()
    worker.start()
    loop.exec()
    seconds = time.perf_counter() - t0
    worker.wait()
    if "error" in out:
        raise SystemExit(f"prediction failed: {out['error']}")
    return out["result"], seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--workspace", help="an existing workspace to predict (nothing is generated)")
    ap.add_argument("--model", help="a model folder (default: an untrained reference CNN at 80x80)")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    cores = pin_cores(args.cores)
    from fanqc_gui.core.dataset.workspace import open_workspace
    from fanqc_gui.core.models.model_store import ModelStore

    with tempfile.TemporaryDirectory(prefix="fanqc-bench-predict-") as tmp:
        root = Path(args.workspace) if args.workspace else Path(tmp) / "ws"
        if not args.workspace:
            make_workspace(root, args.images)
        if args.model:
            info = ModelStore(Path(args.model).parent).get(args.model)
        else:
            info = make_model(Path(tmp) / "models")
        workspace = open_workspace(root)
        result, seconds = run_like_the_page(workspace, info)
    n = len(result.rows)
    unreadable = sum(1 for r in result.rows if r.p_ng is None)
    rate = n / seconds if seconds else 0.0
    print(f"{n} images ({unreadable} unreadable) predicted with {result.backend} on {cores} core(s) in "
          f"{seconds:.2f} s = {rate:.0f} images/s; goal <= {GOAL_S:.0f} s for 5000: "
          f"{'met' if seconds * 5000 / max(n, 1) <= GOAL_S else 'NOT met'}")
    print(json.dumps({"images": n, "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
