"""`fanqc`: the inspection engine from a terminal or a script.

With --json, stdout carries exactly one JSON document; progress and logs go to stderr. User errors print
one line (`fanqc: error: ...`) and exit 2; nothing prints a traceback for bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .core.paths import default_model_store
from .core.tf_runtime import ensure_standard_fds

EXIT_USER_ERROR = 2


class UserError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line instead of usage + error
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", metavar="DIR", help="model store folder (default: $FANQC_MODELS, else the app's "
                                                   f"Settings, now {default_model_store()})")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _add_mapping(p: argparse.ArgumentParser) -> None:
    p.add_argument("--go-folder", metavar="NAME", help="folder holding GO (good) images (default GO)")
    p.add_argument("--ng-folder", metavar="NAME", help="folder holding NG (defect) images (default NG)")


def threshold_arg(text: str) -> float:
    """argparse type: a finite number in [0, 1] (a NaN threshold once passed every defect as GO)."""
    from .core.model_metadata import threshold_problem

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if (why := threshold_problem(value)) is not None:
        raise argparse.ArgumentTypeError(why)
    return value


def fraction_arg(text: str) -> float:
    """argparse type: a share such as a recall target, a finite number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fanqc", description="FanQC inspection engine: train, evaluate, predict, manage models.")
    parser.add_argument("--version", action="version", version=f"fanqc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a new model on a workspace (GO/ and NG/ folders)")
    p.add_argument("data_dir", metavar="DATA_DIR")
    _add_common(p)
    _add_mapping(p)
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
                   help="pretrained: flipped/turned copies as extra training features (default auto: by data size)")
    p.add_argument("--folds", type=int, help="pretrained: k of the k-fold that chooses the threshold (default 5)")
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

    p = sub.add_parser("evaluate", help="measure a model on a GO/NG folder")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data_dir", metavar="DATA_DIR")
    _add_common(p)
    _add_mapping(p)
    p.add_argument("--threshold", type=threshold_arg, help="override the model's threshold (0..1)")
    p.add_argument("--target-ng-recall", type=fraction_arg, help="also report the threshold that reaches this recall")
    p.add_argument("--save-threshold", action="store_true", help="store that threshold with the model")
    p.add_argument("--per-image", action="store_true", help="include every image's result in the JSON")
    p.add_argument("--backend", choices=("auto", "litert", "keras"), default="auto")

    p = sub.add_parser("predict", help="GO/NG verdicts for images or folders")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("paths", metavar="PATH", nargs="+")
    _add_common(p)
    p.add_argument("--threshold", type=threshold_arg, help="override the model's threshold (0..1)")
    p.add_argument("--backend", choices=("auto", "litert", "keras"), default="auto")

    p = sub.add_parser("export", help="(re)write model.tflite for the fast LiteRT backend")
    p.add_argument("model", metavar="MODEL")
    _add_common(p)

    p = sub.add_parser("import-model", help="bring an old Keras .h5 model into the store")
    p.add_argument("file", metavar="FILE.h5")
    _add_common(p)
    _add_mapping(p)
    p.add_argument("--name")
    p.add_argument("--activate", action="store_true")

    p = sub.add_parser("models", help="list / activate / delete / rename stored models")
    _add_common(p)
    p.add_argument("action", nargs="?", default="list", choices=("list", "activate", "delete", "rename", "show"))
    p.add_argument("model", nargs="?", metavar="MODEL")
    p.add_argument("new_name", nargs="?", metavar="NAME", help="for rename")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.add_argument("--force", action="store_true", help="activate a model that is not ready for the station")

    p = sub.add_parser("demo-data", help="write a synthetic demo workspace (fans with labels)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--per-class", type=int, default=300)
    p.add_argument("--inbox", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("scan", help="check a workspace: counts, unreadable files, duplicates")
    p.add_argument("data_dir", metavar="DATA_DIR")
    _add_common(p)
    _add_mapping(p)

    from .cli_inspect import add_inspect_arguments

    p = sub.add_parser("inspect", help="camera station without a window: judge a camera, stream, video or "
                                       "image folder and log every verdict")
    _add_common(p)
    add_inspect_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ensure_standard_fds()
    args = None
    try:
        args = build_parser().parse_args(argv)
        from . import cli_commands

        result = getattr(cli_commands, "cmd_" + args.command.replace("-", "_"))(args)
    except KeyboardInterrupt:
        print("fanqc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every user-facing failure becomes one line
        from .cli_commands import describe_error

        message, is_user_error = describe_error(exc)
        if not is_user_error:
            raise
        wants_json = getattr(args, "json", False) if args is not None else "--json" in (argv or sys.argv[1:])
        if wants_json:
            print(json.dumps({"error": message}))
        print(f"fanqc: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=_json_default))
    return 0


def _json_default(obj):
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


if __name__ == "__main__":
    sys.exit(main())
