"""The `fanqc` sub-commands: thin over core. Each returns the JSON document for --json and prints a short
human summary to stderr otherwise (stdout stays reserved for --json)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .core.dataset import DatasetError
from .core.imaging import ImageError
from .core.model_store import ModelInfo, ModelStore, ModelStoreError
from .core.paths import default_model_store
from .core.workspace import ClassMapping, open_workspace


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(one-line message, is it the user's error?) for an exception raised by a command."""
    from .cli import UserError
    from .core.tf_runtime import TensorFlowMissing

    user_types = (UserError, DatasetError, ModelStoreError, ImageError, TensorFlowMissing, FileNotFoundError,
                  FileExistsError, NotADirectoryError, PermissionError, ValueError)
    names = {"TrainingError", "StationError", "SourceError"}
    if isinstance(exc, user_types) or type(exc).__name__ in names:
        return str(exc) or type(exc).__name__, True
    if isinstance(exc, OSError):  # disk full, read-only store...
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", True
    return str(exc), False


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, a few lines otherwise)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            self._end_line()
            print(text, file=sys.stderr, flush=True)

    def bar(self, label: str, done: int, total: int, extra: str = "") -> None:
        if self.quiet or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        width = 30
        filled = int(width * done / total)
        line = f"{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}"
        if self.tty:
            print("\r" + line[:120], end="" if done < total else "\n", file=sys.stderr, flush=True)
            self._open = done < total
        else:
            print(line, file=sys.stderr, flush=True)

    def _end_line(self) -> None:
        if self.tty and getattr(self, "_open", False):
            print(file=sys.stderr)
            self._open = False


def _store(args) -> ModelStore:
    return ModelStore(args.models or default_model_store())


def _mapping(args) -> ClassMapping:
    return ClassMapping(go_folder=args.go_folder or "GO", ng_folder=args.ng_folder or "NG")


def _model(args, store: ModelStore) -> ModelInfo:
    return store.get(args.model)


def _image_size_option(preset: str, text: str | None) -> dict:
    """--image-size as TrainOptions takes it: the reference preset's square side, the pretrained preset's
    "N"/"WxH" (checked by TrainOptions.validate)."""
    if text is None:
        return {}
    if preset == "pretrained":
        return {"input_size": text}
    try:
        return {"image_size": int(text)}
    except ValueError:
        from .cli import UserError

        raise UserError(f"--image-size {text}: the reference preset takes one number N (an NxN input)") from None


def cmd_train(args) -> dict:
    from .core.training import TrainingListener, TrainOptions, train

    if getattr(args, "mode", "classify") == "anomaly":
        from .cli_anomaly import train_anomaly_command

        return train_anomaly_command(args, _store(args), Progress(args.quiet))
    ws = open_workspace(args.data_dir, args.go_folder, args.ng_folder)
    recipe = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "hard_example_fraction": args.hard_example_fraction}
    preset = args.preset or TrainOptions.preset
    chosen = {"preset": args.preset, "orientation_variants": args.orientation_variants, "folds": args.folds,
              **_image_size_option(preset, args.image_size)}
    options = TrainOptions(val_split=args.val_split, seed=args.seed,
                           augment=args.augment, class_weighting=args.class_weighting,
                           early_stopping=not args.no_early_stopping, patience=args.patience,
                           target_ng_recall=args.target_ng_recall, max_false_reject=args.max_false_reject,
                           **{key: value for key, value in {**recipe, **chosen}.items() if value is not None})
    options.validate()  # a bad option is refused before anything is printed or scanned
    progress = Progress(args.quiet)

    class CliListener(TrainingListener):
        def on_stage(self, text):
            progress.say(text + "...")

        def on_decode_progress(self, done, total):
            progress.bar("decode", done, total)

        def on_batch(self, p):
            progress.bar(f"epoch {p.epoch}/{p.epochs}", p.batch, p.batches,
                         f"{p.images_per_s:.0f} img/s, ETA {p.eta_s:.0f}s")

        def on_epoch(self, m, model):
            progress.say(f"epoch {m.epoch}: loss {m.loss:.4f} acc {m.accuracy:.4f} "
                         f"val_loss {m.val_loss:.4f} val_acc {m.val_accuracy:.4f} ({m.seconds:.1f}s)")

    progress.say(ws.mapping.describe())
    store = _store(args)
    try:
        result = train(ws, store, options, CliListener(), name=args.name, use_disk_cache=not args.no_cache)
    except DatasetError as exc:
        from .core.anomaly.advice import anomaly_mode_hint

        hint = anomaly_mode_hint(ws)  # good parts but no NG: say what can be trained instead
        raise DatasetError(f"{exc}; {hint}" if hint else str(exc)) from None
    for p in result.problems:
        progress.say(f"skipped {p.path}: {p.reason}")
    out = result.to_dict()
    ready = out.get("ready")
    activate = bool(args.activate and result.model and ready is not False)
    if activate:
        store.activate(result.model.id)
    out["active"] = activate
    out["class_mapping"] = ws.mapping.to_dict()
    if result.model is None:
        progress.say(f"stopped after {out['epochs_run']} epochs; nothing was saved")
        return out
    progress.say(f"saved {out['model']} (val accuracy {out['val_accuracy']:.4f}, NG recall "
                 f"{out['val_ng_recall']:.4f}, threshold {out['threshold']:.3f}, {out['seconds']:.1f}s)")
    if out.get("verdict"):
        progress.say(("" if ready else "NOT READY: ") + out["verdict"])
    if args.activate and not activate:
        out["activation_refused"] = out["verdict"]
        # Said even with --quiet: the user asked for something that did not happen.
        print(f"fanqc: not activated: {result.model.id} is not ready for the station; to use it anyway: "
              f"fanqc models activate {result.model.id} --force", file=sys.stderr)
    return out


def cmd_evaluate(args) -> dict:
    from .core.dataset import scan_folders
    from .core.evaluation import compute_metrics, threshold_for_ng_recall
    from .core.inference import Predictor

    if args.save_threshold and args.target_ng_recall is None:
        from .cli import UserError

        raise UserError("--save-threshold needs --target-ng-recall R (the NG recall the threshold must reach)")
    store = _store(args)
    info = _model(args, store)
    mapping = ClassMapping(go_folder=args.go_folder or info.mapping.go_folder,
                           ng_folder=args.ng_folder or info.mapping.ng_folder)
    progress = Progress(args.quiet)
    report = scan_folders(Path(args.data_dir), mapping)
    if not report.images:
        raise DatasetError(f"no readable images in {args.data_dir}/{{{mapping.go_folder},{mapping.ng_folder}}}")
    predictor = Predictor(info, backend=args.backend, store=store)
    preds = predictor.predict_paths([r.path for r in report.images],
                                    progress=lambda d, t: progress.bar("evaluate", d, t))
    rows = [(r, p) for r, p in zip(report.images, preds) if p.p_ng is not None]
    labels = [r.label for r, _ in rows]
    scores = [p.p_ng for _, p in rows]
    threshold = args.threshold if args.threshold is not None else info.threshold
    out = compute_metrics(labels, scores, threshold).to_dict()
    out.update(model=info.id, backend=predictor.backend_name, class_mapping=info.metadata.get("class_mapping"),
               skipped_files=[{"path": str(p.path), "reason": p.reason} for p in report.problems]
               + [{"path": p.path, "reason": p.error} for p in preds if p.error])
    if args.target_ng_recall is not None:
        chosen = threshold_for_ng_recall(labels, scores, args.target_ng_recall)
        out["suggested_threshold"] = chosen
        if args.save_threshold:
            store.update_metadata(info.folder, threshold=chosen, threshold_rule={
                "target_ng_recall": args.target_ng_recall, "on": str(Path(args.data_dir).resolve())})
            out["threshold_saved"] = chosen
    if args.per_image:
        out["per_image"] = [{"path": p.path, "label": "NG" if r.label else "GO", "p_ng": p.p_ng,
                             "verdict": "NG" if p.p_ng >= threshold else "GO",
                             "correct": (p.p_ng >= threshold) == bool(r.label)} for r, p in rows]
    cm = out["confusion_matrix"]
    progress.say(f"{info.id}: {info.mapping.describe()}\naccuracy {out['accuracy']:.4f}  NG recall "
                 f"{out['ng_recall']:.4f}  GO recall {out['go_recall']:.4f}  threshold {threshold:.3f}\n"
                 f"confusion (rows true GO/NG, cols called GO/NG): {cm[0]} {cm[1]}")
    return out


def cmd_predict(args) -> list[dict]:
    from .core.inference import Predictor, expand_paths

    store = _store(args)
    info = _model(args, store)
    predictor = Predictor(info, backend=args.backend, store=store)
    if args.threshold is not None:
        predictor.threshold = args.threshold
    progress = Progress(args.quiet)
    paths = expand_paths(args.paths)
    if not paths:
        raise DatasetError("no images found in the given paths")
    preds = predictor.predict_paths(paths, progress=lambda d, t: progress.bar("predict", d, t))
    if not args.json:
        print(f"# model {info.id}: {info.mapping.describe()}; threshold {predictor.threshold:.3f}")
        for p in preds:
            shown = f"{p.verdict}  P(NG)={p.p_ng:.4f}" if p.error is None else f"ERROR  {p.error}"
            print(f"{shown}  {p.path}")
    return [p.to_dict() for p in preds]


def cmd_export(args) -> dict:
    from .core.export import export_tflite

    store = _store(args)
    info = export_tflite(store, _model(args, store))
    Progress(args.quiet).say(f"wrote {info.tflite_path}")
    return {"model": str(info.folder), "tflite": str(info.tflite_path), "bytes": info.tflite_path.stat().st_size}


def cmd_import_model(args) -> dict:
    from .core.export import import_h5

    store = _store(args)
    mapping = _mapping(args)
    info = import_h5(store, args.file, mapping, name=args.name)
    if args.activate:
        store.activate(info.id)
    Progress(args.quiet).say(f"imported {args.file} as {info.id}: {mapping.describe()}")
    return {"model": str(info.folder), "model_id": info.id, "active": args.activate,
            "class_mapping": info.metadata["class_mapping"], "preprocessing": info.metadata["preprocessing"],
            "invert_output": info.metadata["invert_output"]}


def cmd_models(args) -> dict | list:
    store = _store(args)
    if args.action == "list":
        active = store.active_id()
        rows = [{**i.summary(), "active": i.id == active} for i in store.list()]
        if not args.json:
            print(f"# model store {store.root}" + ("" if rows else " (empty)"))
            for r in rows:
                acc = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "  -   "
                ready = {True: "ready", False: "NOT READY", None: "unknown"}[r["ready"]]
                print(f"{'*' if r['active'] else ' '} {r['id']:<24} {r['created'][:19]:<19} val_acc {acc} "
                      f"threshold {r['threshold']:.3f} {ready:<9}  {r['name']}"
                      f"{' [anomaly: GO only]' if r.get('kind') == 'anomaly' else ''}")
                if r["ready"] is False:
                    print(f"    {r['verdict']}")
        damaged = [{"folder": name, "reason": reason} for name, reason in store.damaged()]
        if not args.json:
            for d in damaged:
                print(f"! {d['folder']:<24} damaged: {d['reason']}")
        listing = {"store": str(store.root), "active": active, "models": rows}
        return {**listing, "damaged": damaged} if damaged else listing  # the key appears when there are some
    if not args.model:
        from .cli import UserError

        raise UserError(f"`fanqc models {args.action}` needs a MODEL id")
    if args.action == "show":
        info = store.get(args.model)
        return info.metadata if args.json else print(info.folder) or {}
    if args.action == "activate":
        info = store.get(args.model)
        ready, verdict = info.readiness()
        if ready is False and not args.force:
            from .cli import UserError

            raise UserError(f"{info.id} is not ready for the station: {_why(verdict)}; add --force to activate "
                            f"it anyway")
        info = store.activate(args.model)
        if ready is False:  # forced: said even with --quiet
            print(f"fanqc: warning: {info.id} is active although it is not ready for the station: "
                  f"{_why(verdict)}", file=sys.stderr)
        Progress(args.quiet).say(f"active model: {info.id}")
        return {"active": info.id}
    if args.action == "rename":
        if not args.new_name:
            from .cli import UserError

            raise UserError("`fanqc models rename MODEL NAME` needs a NAME")
        info = store.update_metadata(args.model, name=args.new_name)
        return {"model": info.id, "name": info.name}
    info = store.get(args.model)
    if not args.yes:
        if not sys.stdin.isatty():
            from .cli import UserError

            raise UserError(f"deleting {info.id} needs confirmation: add --yes")
        answer = input(f"Delete model {info.id} ({info.name}) for good? Type the id to confirm: ")
        if answer.strip() != info.id:
            from .cli import UserError

            raise UserError("not deleted (confirmation did not match)")
    store.delete(info.folder)
    Progress(args.quiet).say(f"deleted {info.id}")
    return {"deleted": info.id}


def _why(verdict: str) -> str:
    """The verdict sentence without its conclusion, to follow "not ready for the station: "."""
    return verdict.removesuffix(": not ready for the station")


def cmd_demo_data(args) -> dict:
    from .core.demo_data import generate_demo_workspace

    summary = generate_demo_workspace(args.dir, per_class=args.per_class, inbox=args.inbox, seed=args.seed)
    Progress(args.quiet).say(f"demo workspace in {summary.root}: {summary.counts}")
    return {"root": str(summary.root), "counts": summary.counts, "defects": summary.defects}


def cmd_scan(args) -> dict:
    from .core.dataset import scan_workspace

    ws = open_workspace(args.data_dir, args.go_folder, args.ng_folder)
    report = scan_workspace(ws, decode=True)
    progress = Progress(args.quiet)
    progress.say(f"{ws.mapping.describe()}\ncounts: {report.counts}")
    for p in report.problems:
        progress.say(f"unusable: {p.path}: {p.reason}")
    for group in report.duplicates:
        progress.say("duplicates: " + ", ".join(str(p) for p in group))
    return report.to_dict()


def cmd_inspect(args) -> dict:
    from .cli_inspect import cmd_inspect as run_inspect

    return run_inspect(args)
