"""Train-speed benchmark: the reference script vs `fanqc train`, on the same data, in one run.

usage: python bench/train_speed.py --data TRAIN_DIR --test TEST_DIR [--epochs 10] [--preset P] [--fanqc-epochs N]
                                   [--skip-seed]
fanqc trains with its default preset unless --preset is given (--fanqc-epochs implies the reference preset).
Both are timed as whole processes, from image files on disk to a saved model (TensorFlow import
included); the reference script's own test evaluation time is subtracted. Needs `pillow` (dev extra) for the
reference. Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_SCRIPT = REPO.parent / "shared" / "reference" / "seed_train.py"


def run_json(cmd: list[str], env: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
    text = proc.stdout[proc.stdout.index("{"):] if lines and not lines[-1].startswith("{") else proc.stdout
    try:
        return json.loads(text), seconds
    except ValueError:
        return json.loads(lines[-1]), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--epochs", type=int, default=10, help="the reference script's epochs (its own: 10)")
    ap.add_argument("--fanqc-epochs", type=int, help="fanqc's epochs (reference preset; default: its own recipe)")
    ap.add_argument("--preset", choices=("pretrained", "reference"), help="fanqc's preset (default: fanqc's default)")
    ap.add_argument("--seed-script", default=str(SEED_SCRIPT))
    ap.add_argument("--skip-seed", action="store_true", help="only time fanqc (no ratio)")
    args = ap.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        result: dict = {}
        if not args.skip_seed:
            print("reference script (seed_train.py)...", file=sys.stderr, flush=True)
            seed, wall = run_json([sys.executable, args.seed_script, args.data, "--epochs", str(args.epochs),
                                   "--out", str(Path(tmp) / "fan_model.h5"), "--test", args.test], env)
            result["seed_seconds"] = round(wall - seed.get("test_seconds", 0.0), 1)
            result["seed_test_accuracy"] = seed.get("test_accuracy")
        print("fanqc train...", file=sys.stderr, flush=True)
        models = str(Path(tmp) / "models")
        fanqc = [sys.executable, "-m", "fanqc_gui"]
        preset = args.preset or ("reference" if args.fanqc_epochs else None)
        chosen = (["--preset", preset] if preset else []) + (["--epochs", str(args.fanqc_epochs)] if args.fanqc_epochs
                                                             else [])
        trained, wall = run_json(fanqc + ["train", args.data, *chosen, "--models", models,
                                          "--json", "--quiet", "--no-cache"], env)
        result["fanqc_seconds"] = round(wall, 1)
        evaluated, _ = run_json(fanqc + ["evaluate", trained["model"], args.test, "--models", models,
                                         "--json", "--quiet"], env)
        result["fanqc_test_accuracy"] = round(evaluated["accuracy"], 4)
        result["fanqc_ng_recall"] = round(evaluated["ng_recall"], 4)
        at_half, _ = run_json(fanqc + ["evaluate", trained["model"], args.test, "--models", models, "--json",
                                       "--quiet", "--threshold", "0.5"], env)
        result["fanqc_test_accuracy_at_0_5"] = round(at_half["accuracy"], 4)
        result["fanqc_ng_recall_at_0_5"] = round(at_half["ng_recall"], 4)
        result["fanqc_val_accuracy"] = round(trained["val_accuracy"], 4)
        result["fanqc_epochs_run"] = trained["epochs_run"]
        meta = json.loads((Path(trained["model"]) / "metadata.json").read_text())
        result["fanqc_preset"] = meta.get("preset", "reference")
        result["fanqc_input"] = f"{meta['preprocessing']['width']}x{meta['preprocessing']['height']}"
        result["fanqc_threshold"] = round(evaluated["threshold"], 4)
        result["ratio"] = round(result["fanqc_seconds"] / result["seed_seconds"], 3) if "seed_seconds" in result \
            else None
    print(f"{'':<10}{'seconds':>9}{'test acc':>10}{'NG recall':>11}")
    if "seed_seconds" in result:
        print(f"{'reference':<10}{result['seed_seconds']:>9.1f}{result['seed_test_accuracy']:>10.4f}{'':>11}")
    print(f"{'fanqc':<10}{result['fanqc_seconds']:>9.1f}{result['fanqc_test_accuracy']:>10.4f}"
          f"{result['fanqc_ng_recall']:>11.4f}")
    if result["ratio"] is not None:
        print(f"time ratio fanqc/reference: {result['ratio']:.3f}")
    order = ["seed_seconds", "fanqc_seconds", "ratio", "seed_test_accuracy", "fanqc_test_accuracy", "fanqc_ng_recall"]
    print(json.dumps({**{k: result.get(k) for k in order}, **{k: v for k, v in result.items() if k not in order}}))


if __name__ == "__main__":
    main()
