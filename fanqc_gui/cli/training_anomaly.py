"""`fanqc train --mode anomaly`: a model from good parts alone (core/models/anomaly,
core/training/anomaly_training.py). Returns the JSON document and prints the summary to stderr like the
classifier's training; the options it shares with it (--image-size, --seed, --target-ng-recall, --max-false-reject,
--name, --activate, --no-cache) mean the same."""
from __future__ import annotations

import sys

from fanqc_gui.core.dataset.workspace import open_workspace

# Classifier options that mean nothing here: said once instead of silently ignored.
_CLASSIFIER_ONLY = ("epochs", "batch_size", "learning_rate", "hard_example_fraction", "preset",
                    "orientation_variants", "folds", "fine_tune")


def train_anomaly_command(args, store, progress) -> dict:
    from fanqc_gui.core.models.anomaly.options import AnomalyOptions
    from fanqc_gui.core.training.anomaly_training import train_anomaly
    from fanqc_gui.core.training.trainer import TrainingListener

    options = AnomalyOptions(method=args.method or AnomalyOptions.method,
                             input_size=args.image_size or AnomalyOptions.input_size, seed=args.seed,
                             target_ng_recall=args.target_ng_recall, max_false_reject=args.max_false_reject)
    options.validate()  # a bad option is refused before anything is scanned
    ignored = [f"--{name.replace('_', '-')}" for name in _CLASSIFIER_ONLY if getattr(args, name, None) is not None]
    if ignored:
        progress.say(f"anomaly mode ignores {', '.join(ignored)} (classifier options)")
    ws = open_workspace(args.data_dir, args.go_folder, args.ng_folder)

    class CliListener(TrainingListener):
        def on_stage(self, text):
            progress.say(text + "...")

        def on_decode_progress(self, done, total):
            progress.bar("scan", done, total)

        def on_batch(self, p):
            progress.bar("progress", p.batch, p.batches, f"ETA {p.eta_s:.0f}s")

    progress.say(f"anomaly mode ({options.method}): learning good parts from {ws.go_dir}")
    result = train_anomaly(ws, store, options, CliListener(), name=args.name, use_disk_cache=not args.no_cache)
    for p in result.problems:
        progress.say(f"skipped {p.path}: {p.reason}")
    out = result.to_dict()
    out.update(kind="anomaly", method=options.method, class_mapping=ws.mapping.to_dict())
    ready = out.get("ready")
    activate = bool(args.activate and result.model and ready is not False)
    if activate:
        store.activate(result.model.id)
    out["active"] = activate
    if result.model is None:
        progress.say("stopped; nothing was saved")
        return out
    meta = result.model.metadata
    choice = result.threshold_choice
    held = f"rejects {100 * choice.false_reject_rate:.1f} % of {choice.n_go} held-out good parts"
    caught = f", catches {100 * choice.ng_recall:.1f} % of {choice.n_ng} NG" if choice.n_ng else ""
    progress.say(f"saved {out['model']} (anomaly, {options.method}, input {meta['training']['input_size_used']}: "
                 f"{held}{caught}; threshold {out['threshold']:.3f}, {out['seconds']:.1f}s)")
    progress.say(("" if ready else "NOT READY: ") + out["verdict"])
    if args.activate and not activate:
        out["activation_refused"] = out["verdict"]
        print(f"fanqc: not activated: {result.model.id} is not ready for the station; to use it anyway: "
              f"fanqc models activate {result.model.id} --force", file=sys.stderr)
    return out
