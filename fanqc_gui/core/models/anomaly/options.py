"""What an anomaly training run can be told, and the rules that fill in the rest (input size, channels)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.imaging import INTERPOLATIONS
from fanqc_gui.core.models.anomaly.network import STEP, grid_size, tap_channels
from fanqc_gui.core.models.backbone.input_size import LONG_MAX, InputSizeError, parse_input_size
from fanqc_gui.core.models.evaluation import DEFAULT_TARGET_NG_RECALL
from fanqc_gui.core.models.threshold_choice import DEFAULT_MAX_FALSE_REJECT

METHODS = ("padim", "patchcore")
MIN_GO_IMAGES = 10  # fewer good images cannot describe "good" nor leave any to check the threshold on
SHORT_SIDE = 320  # anomaly maps need the small defects: screws 0.955 ROC AUC at 320 px, 0.92 at 256, 0.91 at 224
# PaDiM's precision matrices are the exported model's constants and are read for every frame: positions x
# channels^2 x 4 bytes stay under this (channels are dropped on large grids).
PRECISION_BUDGET_BYTES = 160_000_000
MIN_CHANNELS = 32


class AnomalyOptionsError(FanQCError, ValueError):
    """An option the anomaly training cannot take; the message says which and why."""


@dataclass
class AnomalyOptions:
    method: str = "padim"  # "padim" (fast, the default) or "patchcore" (nearest good patch, position-free)
    input_size: str = "auto"  # "auto" (by rule from the images' sizes), "N" or "WxH" (multiples of 32)
    channels: int = 152  # feature channels kept (a seeded random subset of 232; fewer on large grids)
    coreset_ratio: float = 0.05  # patchcore: share of the good patches kept in the memory bank...
    max_bank: int = 4096  # ...at most this many (the station's cost per frame grows with it)
    folds: int = 5  # patchcore: folds of the held-out scores of good parts
    # The threshold from good parts alone: this quantile of their held-out scores (None: 1 - max_false_reject
    # / 2, so about half the false-reject budget is spent and half kept for what the held-out scores cannot
    # foresee), raised by `margin` (a share). Screws: the held-out 95 % quantile rejected 4 % of new good
    # parts, the 99 % quantile + 10 % caught 8 % of the defects, the 97.5 % quantile about half.
    quantile: float | None = None
    margin: float = 0.0
    target_ng_recall: float = DEFAULT_TARGET_NG_RECALL  # with NG images: moves the threshold towards this
    max_false_reject: float = DEFAULT_MAX_FALSE_REJECT
    interpolation: str = "area"
    seed: int = 0

    def validate(self) -> None:
        checks = [
            (self.method in METHODS, f"unknown anomaly method {self.method!r}: use one of {', '.join(METHODS)}"),
            (MIN_CHANNELS <= self.channels <= tap_channels(),
             f"channels must be between {MIN_CHANNELS} and {tap_channels()}"),
            (0 < self.coreset_ratio <= 1, "coreset ratio must be in (0, 1]"),
            (self.max_bank >= 64, "the memory bank must hold at least 64 patches"),
            (2 <= self.folds <= 20, "folds must be between 2 and 20"),
            (self.quantile is None or 0.5 <= self.quantile <= 1, "the good-parts quantile must be between 0.5 and 1"),
            (0 <= self.margin <= 2, "the threshold margin must be between 0 and 2"),
            (0 < self.target_ng_recall <= 1, "target NG recall must be in (0, 1]"),
            (0 <= self.max_false_reject <= 1, "false-reject limit must be in [0, 1]"),
            (self.interpolation in INTERPOLATIONS, f"unknown interpolation {self.interpolation!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise AnomalyOptionsError(message)
        try:
            parse_input_size(self.input_size)
        except InputSizeError as exc:
            raise AnomalyOptionsError(str(exc)) from None

    def to_dict(self) -> dict:
        return asdict(self)

    def quantile_used(self) -> float:
        return self.quantile if self.quantile is not None else max(0.5, 1.0 - self.max_false_reject / 2.0)


def size_by_rule(sizes: Iterable[tuple[int, int]]) -> tuple[int, int, str]:
    """(width, height, why): the short side SHORT_SIDE px, or the images' own where smaller (never blown
    up), the long side keeping their median aspect ratio (at most LONG_MAX), both multiples of 32."""
    sizes = [(int(w), int(h)) for w, h in sizes if w and h]
    if not sizes:
        return SHORT_SIDE, SHORT_SIDE, f"{SHORT_SIDE}x{SHORT_SIDE}: the image sizes could not be read"
    w = np.array([s[0] for s in sizes], np.float64)
    h = np.array([s[1] for s in sizes], np.float64)
    aspect = float(np.median(h / w))
    native_short = float(np.median(np.minimum(w, h)))
    short = max(STEP, int(min(SHORT_SIDE, native_short) // STEP) * STEP)
    ratio = max(aspect, 1.0 / aspect)
    long = min(max(STEP, round(short * ratio / STEP) * STEP), LONG_MAX)
    width, height = (short, long) if aspect >= 1.0 else (long, short)
    return width, height, (f"{width}x{height}: the images are typically {int(np.median(w))}x{int(np.median(h))} px "
                           f"(from {len(sizes)} files); small defects need the resolution, the input keeps "
                           f"their aspect ratio")


def channels_for(options: AnomalyOptions, width: int, height: int) -> tuple[int, str]:
    """(channels kept, why): the option, fewer where PaDiM's precision matrices would pass the budget."""
    cols, rows = grid_size(width, height)
    if options.method != "padim":
        return options.channels, "chosen"
    fits = int(math.sqrt(PRECISION_BUDGET_BYTES / 4.0 / (rows * cols)))
    if fits >= options.channels:
        return options.channels, "chosen"
    if fits < MIN_CHANNELS:
        raise AnomalyOptionsError(f"input {width}x{height} is too large for PaDiM ({rows * cols} patch positions): "
                                  f"choose a smaller input size or the patchcore method")
    return fits, (f"{fits} of {options.channels}: {rows}x{cols} patch positions; PaDiM's statistics stay under "
                  f"{PRECISION_BUDGET_BYTES // 1_000_000} MB")


def channel_subset(count: int, seed: int) -> list[int]:
    """A fixed (seeded) random subset of the tapped channels, sorted: PaDiM's way of bounding memory."""
    total = tap_channels()
    if count >= total:
        return list(range(total))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(total, count, replace=False))
