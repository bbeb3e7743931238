"""Generalisation benchmark: default training on every GO/NG dataset the team has, each preset and the seed
script side by side, measured on test images none of them trained on.

usage: python bench/generalisation.py [--datasets casting,screw,demo] [--presets pretrained,reference,fine-tune]
                                      [--skip-seed] [--split-seed 0] [--keep DIR]
- casting: ../shared/datasets/casting/{train,test}
- screw:   ../shared/datasets/screw (250 GO / 50 NG, no split given): a seeded stratified 80/20 split
- demo:    generated parts (`fanqc demo-data`): 300 per class to train, 100 per class of other parts to test
Each training is `fanqc train DIR --preset P` with the defaults (a whole process, files on disk -> saved
model); the seed script's .h5 is imported (`fanqc import-model`) and evaluated the same way, at its 0.5.
Every model is measured with `fanqc evaluate` at its stored threshold. Needs pillow for the seed script.
Tune nothing here to one dataset: the point is what a new user gets with the defaults.
Last line of output: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_SCRIPT = SHARED / "reference" / "seed_train.py"
DATASETS = ("casting", "screw", "demo")
TARGETS = {"casting": "accuracy >= 0.99", "demo": "accuracy >= 0.99",
           "screw": "ROC AUC >= 0.95, accuracy >= 0.90 with NG recall >= 0.90"}


def run_json(cmd: list[str], env: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    out = proc.stdout.strip()
    try:
        return json.loads(out[out.index("{"):] if not out.startswith("[") else out), seconds
    except ValueError:
        return json.loads(out.splitlines()[-1]), seconds


def _copy_workspace(root: Path, folders: dict[str, Path]) -> Path:
    """A writable copy of read-only data (the caches go into root; links out of a workspace are skipped)."""
    for name, source in folders.items():
        shutil.copytree(source, root / name)
    return root


def _split_screw(tmp: Path, seed: int, test_share: float = 0.2) -> tuple[Path, Path]:
    """Seeded stratified split of a GO/NG folder into train/ and test/ (copies of the files)."""
    src = SHARED / "datasets" / "screw"
    rng = np.random.default_rng(seed)
    for cls in ("GO", "NG"):
        files = sorted(p for p in (src / cls).iterdir() if p.is_file())
        order = rng.permutation(len(files))
        n_test = round(len(files) * test_share)
        for part, picks in (("test", order[:n_test]), ("train", order[n_test:])):
            folder = tmp / "screw" / part / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in picks:
                shutil.copy2(files[i], folder / files[i].name)
    return tmp / "screw" / "train", tmp / "screw" / "test"


def prepare(name: str, tmp: Path, fanqc: list[str], env: dict, split_seed: int) -> tuple[Path, Path]:
    if name == "casting":
        src = SHARED / "datasets" / "casting"
        return (_copy_workspace(tmp / "casting" / "train", {c: src / "train" / c for c in ("GO", "NG")}),
                src / "test")
    if name == "screw":
        return _split_screw(tmp, split_seed)
    if name == "demo":
        run_json(fanqc + ["demo-data", str(tmp / "demo" / "train"), "--per-class", "300", "--inbox", "0",
                          "--seed", "0", "--json", "--quiet"], env)
        run_json(fanqc + ["demo-data", str(tmp / "demo" / "test"), "--per-class", "100", "--inbox", "0",
                          "--seed", "1", "--json", "--quiet"], env)
        return tmp / "demo" / "train", tmp / "demo" / "test"
    raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def evaluate(fanqc: list[str], env: dict, models: str, model: str, test: Path) -> dict:
    ev, _ = run_json(fanqc + ["evaluate", model, str(test), "--models", models, "--json", "--quiet"], env)
    return {"accuracy": round(ev["accuracy"], 4), "ng_recall": round(ev["ng_recall"], 4),
            "false_reject_rate": round(ev["false_reject_rate"], 4),
            "roc_auc": round(ev["roc_auc"], 4) if ev.get("roc_auc") is not None else None,
            "threshold": round(ev["threshold"], 4), "test_images": ev["images"]}


def run_fanqc(method: str, train: Path, test: Path, tmp: Path, fanqc: list[str], env: dict) -> dict:
    """method: a preset, or "fine-tune" (the pretrained preset with --fine-tune)."""
    models = str(tmp / f"models-{method}")
    preset = ["--preset", "pretrained", "--fine-tune"] if method == "fine-tune" else ["--preset", method]
    trained, wall = run_json(fanqc + ["train", str(train), *preset, "--models", models, "--json", "--quiet"], env)
    row = {"train_seconds": round(wall, 1), **evaluate(fanqc, env, models, trained["model_id"], test),
           "ready": trained.get("ready"), "verdict": trained.get("verdict")}
    meta = json.loads((Path(trained["model"]) / "metadata.json").read_text())
    row["input"] = f"{meta['preprocessing']['width']}x{meta['preprocessing']['height']}"
    return row


def run_seed(train: Path, test: Path, tmp: Path, fanqc: list[str], env: dict) -> dict:
    # The seed script takes every sub-folder for a class (flow_from_directory): give it GO/ and NG/ alone,
    # without the workspace's .fanqc/ cache or inbox/.
    clean = tmp / f"seed-{train.parent.name}-{train.name}"
    _copy_workspace(clean, {c: train / c for c in ("GO", "NG")})
    h5 = clean.with_suffix(".h5")
    seed, wall = run_json([sys.executable, str(SEED_SCRIPT), str(clean), "--out", str(h5), "--test", str(test)],
                          env)
    models = str(tmp / "models-seed")
    imported, _ = run_json(fanqc + ["import-model", str(h5), "--models", models, "--json", "--quiet"], env)
    return {"train_seconds": round(wall - seed.get("test_seconds", 0.0), 1),
            **evaluate(fanqc, env, models, imported["model_id"], test), "input": "80x80",
            "own_test_accuracy": seed.get("test_accuracy"), "own_val_accuracy": seed.get("val_accuracy")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--presets", default="pretrained,reference")
    ap.add_argument("--skip-seed", action="store_true", help="leave out the seed script (slow on casting)")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the screw train/test split")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (kept) instead of a temporary folder")
    args = ap.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    fanqc = [sys.executable, "-m", "fanqc_gui"]
    methods = [p for p in args.presets.split(",") if p] + ([] if args.skip_seed else ["seed"])
    results: dict = {}
    tmp_ctx = tempfile.TemporaryDirectory() if not args.keep else None
    tmp = Path(args.keep) if args.keep else Path(tmp_ctx.name)
    if args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    try:
        for name in [d for d in args.datasets.split(",") if d]:
            train, test = prepare(name, tmp, fanqc, env, args.split_seed)
            results[name] = {}
            for method in methods:
                print(f"{name}: {method}...", file=sys.stderr, flush=True)
                try:
                    row = (run_seed(train, test, tmp, fanqc, env) if method == "seed"
                           else run_fanqc(method, train, test, tmp, fanqc, env))
                except RuntimeError as exc:
                    row = {"error": str(exc).splitlines()[-1][:300]}
                results[name][method] = row
                print(f"  {json.dumps(row)}", file=sys.stderr, flush=True)
    finally:
        if tmp_ctx:
            tmp_ctx.cleanup()
    print(f"{'dataset':<9}{'method':<12}{'input':>9}{'seconds':>9}{'accuracy':>10}{'NG recall':>11}"
          f"{'rejects GO':>12}{'ROC AUC':>9}{'threshold':>11}  target")
    for name, rows in results.items():
        for method, r in rows.items():
            if "error" in r:
                print(f"{name:<9}{method:<12} error: {r['error']}")
                continue
            auc = f"{r['roc_auc']:.4f}" if r["roc_auc"] is not None else "-"
            print(f"{name:<9}{method:<12}{r['input']:>9}{r['train_seconds']:>9.1f}{r['accuracy']:>10.4f}"
                  f"{r['ng_recall']:>11.4f}{r['false_reject_rate']:>12.4f}{auc:>9}{r['threshold']:>11.4f}  "
                  f"{TARGETS.get(name, '')}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
