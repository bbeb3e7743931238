"""`fanqc train`: a new model from a workspace, with progress on stderr."""
from __future__ import annotations

import sys

from fanqc_gui.cli.arguments import add_common_options, add_mapping_options, fraction_arg, store_from
from fanqc_gui.cli.models import _image_size_option
from fanqc_gui.cli.progress import Progress
from fanqc_gui.cli.training_anomaly import train_anomaly_command
from fanqc_gui.core.dataset.scan import DatasetError
from fanqc_gui.core.dataset.workspace import open_workspace


def add_parsers(sub) -> None:
    """Register `fanqc train` on the sub-command parsers `sub`."""
    p = sub.add_parser("train", help="train a new model on a workspace (GO/ and NG/ folders)")
    p.add_argument("data_dir", metavar="DATA_DIR")
    add_common_options(p)
    add_mapping_options(p)
    # None = TrainOptions' default (the tuned recipe), so the CLI, the GUI and the API train alike.
    p.add_argument("--epochs", type=int, help="epochs (default: follows the data, 4 on 6,600 images and more on fewer, "
                                              "up to 30; the first two visit every image, see --hard-example-fraction)")
    p.add_argument("--batch-size", type=int, help="default 32")
    p.add_argument("--learning-rate", type=float, help="peak of the one-cycle learning-rate schedule (default 2e-3)")
    p.add_argument("--hard-example-fraction", type=float,
                   help="share of the training images each epoch after the second visits, drawn by their loss "
                        "(default 0.5; 1 = every image every epoch)")
    p.add_argument("--mode", choices=("classify", "anomaly"), default="classify",
                   help="classify: learn GO vs NG from both folders; anomaly: learn good parts from the GO folder "
                        "alone and flag whatever differs (NG images only set the threshold and the report)")
    p.add_argument("--method", choices=("padim", "patchcore"),
                   help="anomaly mode: padim (default, fast) or patchcore (nearest good patch, slower station)")
    p.add_argument("--preset", choices=("pretrained", "reference"),
                   help="pretrained: ImageNet EfficientNet-Lite0 features + a trained head; reference: the seed's "
                        "CNN trained from scratch (default: the engine's, see README)")
    p.add_argument("--image-size", metavar="N|WxH",
                   help="model input: N for NxN or WxH (pretrained: multiples of 32, default by rule from the "
                        "images' sizes; reference: N only, default 80)")
    p.add_argument("--orientation-variants", choices=("auto", "on", "off"),
                   help="pretrained: the model also looks at each image flipped/turned and averages (default auto: "
                        "the fewest views that keep the out-of-fold ROC AUC; each costs the station time)")
    p.add_argument("--folds", type=int, help="pretrained: k of the k-fold that chooses the threshold (default 5)")
    p.add_argument("--fine-tune", action="store_const", const=True, default=None,
                   help="pretrained: also tune the backbone's upper blocks (11-14) on these images, for parts unlike "
                        "everyday objects; minutes instead of seconds")
    p.add_argument("--val-split", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", action="store_true", help="random flips, small rotations, brightness")
    p.add_argument("--class-weighting", action="store_const", const=True, default=None,
                   help="weight classes by inverse frequency (default: on when a class is under 25 %% of the images)")
    p.add_argument("--no-class-weighting", dest="class_weighting", action="store_const", const=False)
    p.add_argument("--no-early-stopping", action="store_true")
    p.add_argument("--no-cache", action="store_true", help="decode every image again (ignore the decode cache)")
    p.add_argument("--patience", type=int, default=3, help="epochs without val_loss improvement before stopping")
    p.add_argument("--target-ng-recall", type=fraction_arg, default=0.995)
    p.add_argument("--max-false-reject", type=fraction_arg, default=0.05,
                   help="share of good parts the stored threshold may reject; beyond it the model is not ready")
    p.add_argument("--name", help="display name of the new model")
    p.add_argument("--activate", action="store_true", help="make the new model the active one")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> dict:
    from fanqc_gui.core.training.trainer import TrainingListener, TrainOptions, train

    if getattr(args, "mode", "classify") == "anomaly":
        return train_anomaly_command(args, store_from(args), Progress(args.quiet))
    ws = open_workspace(args.data_dir, args.go_folder, args.ng_folder)
    recipe = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "hard_example_fraction": args.hard_example_fraction}
    preset = args.preset or TrainOptions.preset
    if preset != "reference":
        given = [flag for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                                          ("--learning-rate", args.learning_rate),
                                          ("--hard-example-fraction", args.hard_example_fraction),
                                          ("--augment", args.augment), ("--no-early-stopping", args.no_early_stopping))
                 if value not in (None, False)]
        if given:  # an option that would be ignored is refused, never dropped without a word
            raise ValueError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to the reference "
                             f"preset only (the {preset} preset has no epochs): add --preset reference, or leave "
                             f"{'it' if len(given) == 1 else 'them'} out")
    chosen = {"preset": args.preset, "orientation_variants": args.orientation_variants, "folds": args.folds,
              "fine_tune": args.fine_tune,
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
    store = store_from(args)
    try:
        result = train(ws, store, options, CliListener(), name=args.name, use_disk_cache=not args.no_cache)
    except DatasetError as exc:
        from fanqc_gui.core.training.anomaly_advice import anomaly_mode_hint

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
