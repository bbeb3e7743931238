"""`fanqc evaluate` and `fanqc predict`: a model's verdicts on labelled folders or any images."""
from __future__ import annotations

from pathlib import Path

from fanqc_gui.cli.arguments import (
    add_common_options,
    add_mapping_options,
    fraction_arg,
    model_from,
    store_from,
    threshold_arg,
)
from fanqc_gui.cli.errors import UserError
from fanqc_gui.cli.progress import Progress
from fanqc_gui.core.dataset.scan import DatasetError
from fanqc_gui.core.dataset.workspace import ClassMapping


def add_parsers(sub) -> None:
    """Register `fanqc evaluate`, `fanqc predict` on the sub-command parsers `sub`."""
    p = sub.add_parser("evaluate", help="measure a model on a GO/NG folder")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data_dir", metavar="DATA_DIR")
    add_common_options(p)
    add_mapping_options(p)
    p.add_argument("--threshold", type=threshold_arg, help="override the model's threshold (0..1)")
    p.add_argument("--target-ng-recall", type=fraction_arg,
                   help="also choose the threshold that reaches this NG recall within the false-reject cap, "
                        "and say whether the model is ready for the station on these images")
    p.add_argument("--max-false-reject", type=fraction_arg,
                   help="with --target-ng-recall: share of good parts the threshold may reject (default: the "
                        "model's own rule, else 0.05)")
    p.add_argument("--save-threshold", action="store_true",
                   help="store that threshold with the model, with the trade-off and verdict measured here")
    p.add_argument("--per-image", action="store_true", help="include every image's result in the JSON")
    p.add_argument("--backend", choices=("auto", "litert", "keras"), default="auto")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="GO/NG verdicts for images or folders")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("paths", metavar="PATH", nargs="+")
    add_common_options(p)
    p.add_argument("--threshold", type=threshold_arg, help="override the model's threshold (0..1)")
    p.add_argument("--backend", choices=("auto", "litert", "keras"), default="auto")
    p.set_defaults(func=cmd_predict)


def cmd_evaluate(args) -> dict:
    from fanqc_gui.core.dataset.scan import scan_folders
    from fanqc_gui.core.models.evaluation import compute_metrics
    from fanqc_gui.core.models.inference import Predictor
    from fanqc_gui.core.models.threshold_choice import DEFAULT_MAX_FALSE_REJECT, choose_threshold

    if args.save_threshold and args.target_ng_recall is None:
        raise UserError("--save-threshold needs --target-ng-recall R (the NG recall the threshold must reach)")
    store = store_from(args)
    info = model_from(args, store)
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
        # The same rule and verdict as training, on these labelled images (which the model may not have seen).
        rule = info.metadata.get("threshold_rule")
        cap = args.max_false_reject
        if cap is None:
            cap = rule.get("max_false_reject") if isinstance(rule, dict) else None
            cap = cap if isinstance(cap, float) and 0 <= cap <= 1 else DEFAULT_MAX_FALSE_REJECT
        on = str(Path(args.data_dir).resolve())
        choice = choose_threshold(labels, scores, args.target_ng_recall, cap, scores_from=f"{on} (evaluate)")
        out.update(suggested_threshold=choice.threshold, ready=choice.ready, verdict=choice.reason,
                   threshold_choice=choice.to_dict())
        progress.say(f"threshold {choice.threshold:.3f}: {choice.reason}")
        if args.save_threshold:
            store.update_metadata(info.folder, threshold=choice.threshold, threshold_choice=choice.to_dict(),
                                  threshold_rule={"target_ng_recall": args.target_ng_recall,
                                                  "max_false_reject": cap, "on": on})
            out["threshold_saved"] = choice.threshold
    if args.per_image:
        out["per_image"] = [{"path": p.path, "label": "NG" if r.label else "GO", "p_ng": p.p_ng,
                             "verdict": "NG" if p.p_ng >= threshold else "GO",
                             "correct": (p.p_ng >= threshold) == bool(r.label)} for r, p in rows]
    for skipped in out["skipped_files"]:  # said with --json too (on stderr): never dropped without a word
        progress.say(f"skipped {skipped['path']}: {skipped['reason']}")
    cm = out["confusion_matrix"]
    progress.say(f"{info.id}: {info.mapping.describe()}\naccuracy {out['accuracy']:.4f}  NG recall "
                 f"{out['ng_recall']:.4f}  GO recall {out['go_recall']:.4f}  threshold {threshold:.3f}\n"
                 f"confusion (rows true GO/NG, cols called GO/NG): {cm[0]} {cm[1]}")
    return out


def cmd_predict(args) -> list[dict]:
    from fanqc_gui.core.models.inference import Prediction, Predictor, collect_images

    store = store_from(args)
    info = model_from(args, store)
    predictor = Predictor(info, backend=args.backend, store=store)
    if args.threshold is not None:
        predictor.threshold = args.threshold
    progress = Progress(args.quiet)
    paths, skipped = collect_images(args.paths)
    if not paths and not skipped:
        raise DatasetError("no images found in the given paths")
    preds = predictor.predict_paths(paths, progress=lambda d, t: progress.bar("predict", d, t))
    # Files of the folders that could not even be opened (links, pipes, hidden files...): named like the rest
    preds += [Prediction(str(s.path), None, None, s.reason) for s in skipped]
    if not args.json:
        print(f"# model {info.id}: {info.mapping.describe()}; threshold {predictor.threshold:.3f}")
        for p in preds:
            shown = f"{p.verdict}  P(NG)={p.p_ng:.4f}" if p.error is None else f"ERROR  {p.error}"
            print(f"{shown}  {p.path}")
    return [p.to_dict() for p in preds]
