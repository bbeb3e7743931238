"""Inference-speed benchmark: model.predict per image (the old way) vs the compiled Keras path vs LiteRT.

usage: python bench/infer_speed.py [--model MODEL_DIR] [--threads N] [--runs 300]
Without --model, an untrained reference CNN at 80x80 is exported to a temporary store (latency does not
depend on the weights). Times are per call on an already preprocessed 80x80 image; preprocessing is
timed separately. Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fanqc_gui.core.imaging import PreprocessSpec, preprocess  # noqa: E402
from fanqc_gui.core.models.backends import KerasBackend, LiteRTBackend  # noqa: E402


def percentiles(fn, runs: int) -> tuple[float, float]:
    for _ in range(max(5, runs // 20)):  # warm-up
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def load_or_build(model_dir: str | None, tmp: str):
    from fanqc_gui.core.models.architecture import build_reference_cnn
    from fanqc_gui.core.models.model_store import ModelStore

    if model_dir:
        store = ModelStore(Path(model_dir).parent)
        info = store.get(model_dir)
        return store.load_keras(info), info.tflite_path, info.preprocess_spec
    from fanqc_gui.core.models.export import keras_to_tflite

    model = build_reference_cnn(80)
    path = Path(tmp) / "model.tflite"
    path.write_bytes(keras_to_tflite(model))
    return model, path, PreprocessSpec()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, tflite_path, spec = load_or_build(args.model, tmp)
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        x1 = preprocess(frame, spec)[None]
        x32 = np.repeat(x1, 32, axis=0)

        pre_p50, _ = percentiles(lambda: preprocess(frame, spec), args.runs)
        predict_p50, predict_p99 = percentiles(lambda: model.predict(x1, verbose=0), max(50, args.runs // 5))
        keras = KerasBackend(model)
        keras_p50, keras_p99 = percentiles(lambda: keras(x1), args.runs)
        litert = LiteRTBackend(tflite_path, args.threads)
        litert_p50, litert_p99 = percentiles(lambda: litert(x1), args.runs * 3)
        litert_1t = LiteRTBackend(tflite_path, 1)
        litert1_p50, _ = percentiles(lambda: litert_1t(x1), args.runs * 3)
        batch_p50, _ = percentiles(lambda: litert(x32), max(50, args.runs // 3))
        agree = float(np.max(np.abs(litert(x32) - keras(x32))))

    rows = [("model.predict (old way)", predict_p50, predict_p99), ("compiled Keras (tf.function)", keras_p50,
            keras_p99), (f"LiteRT, {args.threads} threads", litert_p50, litert_p99),
            ("LiteRT, 1 thread", litert1_p50, float("nan"))]
    print(f"{'per image, 80x80':<32}{'p50 ms':>9}{'p99 ms':>9}")
    for name, p50, p99 in rows:
        print(f"{name:<32}{p50:>9.3f}{p99:>9.3f}")
    print(f"preprocess 640x480 frame -> 80x80: p50 {pre_p50:.3f} ms")
    print(f"LiteRT batch of 32: {32000.0 / batch_p50:.0f} images/s; |LiteRT - Keras| max {agree:.2e}")
    print(f"speed-up LiteRT vs model.predict: {predict_p50 / litert_p50:.0f}x")
    print(json.dumps({"predict_p50_ms": round(predict_p50, 3), "keras_p50_ms": round(keras_p50, 3),
                      "litert_p50_ms": round(litert_p50, 3), "litert_p99_ms": round(litert_p99, 3),
                      "batch32_images_per_s": round(32000.0 / batch_p50, 1),
                      "litert_1thread_p50_ms": round(litert1_p50, 3), "preprocess_p50_ms": round(pre_p50, 3),
                      "threads": args.threads, "max_abs_diff": agree}))


if __name__ == "__main__":
    main()
