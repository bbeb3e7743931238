"""One validated reading of a model's metadata.json: types, ranges and finite numbers, checked once when the
store reads a folder. A folder that fails is listed as damaged with the reason; it never reaches a command,
a page or the station, and never takes the listing of the other models down.
"""
from __future__ import annotations

import math

from fanqc_gui.core.imaging import PreprocessSpec

_OPTIONAL_TYPES = {
    "name": str, "created": str, "source": str, "architecture": str, "class_mapping": dict, "validation": dict,
    "dataset": dict, "history": list, "validation_files": list, "training": dict, "threshold_rule": dict,
    "threshold_choice": dict, "fast_tflite": dict, "input_size": list,
}


def threshold_problem(value) -> str | None:
    """Why value cannot be a threshold (None when it can): a finite number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"threshold must be a number, not {type(value).__name__}"
    if not math.isfinite(value):
        return f"threshold must be a finite number, not {value}"
    if not 0.0 <= value <= 1.0:
        return f"threshold must be between 0 and 1, not {value:g}"
    return None


def metadata_problem(meta) -> str | None:
    """Why this metadata cannot describe a usable model, in plain words; None when it can."""
    if not isinstance(meta, dict):
        return "not FanQC model metadata (not a JSON object)"
    if "preprocessing" not in meta:
        return "not FanQC model metadata (no 'preprocessing')"
    if not isinstance(meta["preprocessing"], dict):
        return f"'preprocessing' must be an object, not {_kind(meta['preprocessing'])}"
    try:
        PreprocessSpec.from_dict(meta["preprocessing"])
    except (TypeError, ValueError) as exc:
        return f"'preprocessing' is invalid: {exc}"
    if "threshold" in meta and (why := threshold_problem(meta["threshold"])) is not None:
        return why
    if "schema" in meta and (isinstance(meta["schema"], bool) or not isinstance(meta["schema"], int)):
        return f"'schema' must be a whole number, not {_kind(meta['schema'])}"
    for key, kind in _OPTIONAL_TYPES.items():
        if key in meta and meta[key] is not None and not isinstance(meta[key], kind):
            return f"'{key}' must be {'an object' if kind is dict else 'a list' if kind is list else 'text'}, " \
                   f"not {_kind(meta[key])}"
    counts = (meta.get("dataset") or {}).get("counts")
    if counts is not None and not isinstance(counts, dict):
        return f"'dataset.counts' must be an object, not {_kind(counts)}"
    return None


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true/false"}.get(
        type(value), type(value).__name__)
