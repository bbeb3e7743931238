"""Options shared by the `fanqc` commands (model store, --json, --quiet, class folders), argument
types, and what the commands read from them."""
from __future__ import annotations

import argparse

from fanqc_gui.core.app_settings import default_model_store
from fanqc_gui.core.dataset.workspace import ClassMapping
from fanqc_gui.core.models.model_store import ModelInfo, ModelStore


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", metavar="DIR", help="model store folder (default: $FANQC_MODELS, else the app's "
                                                   f"Settings, now {default_model_store()})")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def add_mapping_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--go-folder", metavar="NAME", help="folder holding GO (good) images (default GO)")
    p.add_argument("--ng-folder", metavar="NAME", help="folder holding NG (defect) images (default NG)")


def threshold_arg(text: str) -> float:
    """argparse type: a finite number in [0, 1] (a NaN threshold once passed every defect as GO)."""
    from fanqc_gui.core.models.model_metadata import threshold_problem

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


def store_from(args) -> ModelStore:
    return ModelStore(args.models or default_model_store())


def mapping_from(args) -> ClassMapping:
    return ClassMapping(go_folder=args.go_folder or "GO", ng_folder=args.ng_folder or "NG")


def model_from(args, store: ModelStore) -> ModelInfo:
    return store.get(args.model)
