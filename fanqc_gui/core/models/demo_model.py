"""The first demo model: shipped with the app, installed into the model store on first run.

It is the reference CNN at 48x48 (small enough to ship: ~7 MB), trained on demo parts generated with seed 1,
so the first-run demo workspace (seed 0) shows it images it has never seen. On a station without
TensorFlow it runs from its model.tflite; with TensorFlow, its model.keras also feeds the insight page.

Regenerate the shipped files (needs TensorFlow, about a minute):  python -m tools.build_demo_model
"""
from __future__ import annotations

import os
import shutil
import uuid
from importlib import resources
from pathlib import Path

from fanqc_gui.core.app_settings import AppSettings
from fanqc_gui.core.atomic_io import fsync_dir
from fanqc_gui.core.models.fast_model import FAST_TFLITE_FILE
from fanqc_gui.core.models.model_store import (
    KERAS_FILE,
    METADATA_FILE,
    TFLITE_FILE,
    ModelInfo,
    ModelStore,
    ModelStoreError,
)

DEMO_MODEL_ID = "demo-model"
DEMO_IMAGE_SIZE = 48
DEMO_TRAINING_SEED = 1  # the demo workspace users see is generated with seed 0
_FILES = (KERAS_FILE, TFLITE_FILE, FAST_TFLITE_FILE, METADATA_FILE)


def shipped_demo_model() -> Path:
    """The folder of the demo model inside the installed package (a real folder, also when frozen)."""
    return Path(str(resources.files("fanqc_gui") / "resources" / "demo_model"))


def install_demo_model(store: ModelStore, activate_if_none: bool = True) -> ModelInfo:
    """Copy the shipped demo model into the store (once; later calls return the copy) and make it active
    when no model is active. The copy is written into a hidden folder and renamed into place."""
    if (store.root / DEMO_MODEL_ID / METADATA_FILE).is_file():
        info = store.get(DEMO_MODEL_ID)
    else:
        source = shipped_demo_model()
        missing = [name for name in (TFLITE_FILE, METADATA_FILE) if not (source / name).is_file()]
        if missing:
            raise ModelStoreError(f"this FanQC installation lacks its demo model ({', '.join(missing)} "
                                  f"missing in {source})")
        store.root.mkdir(parents=True, exist_ok=True)
        tmp = store.root / f".installing-{DEMO_MODEL_ID}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            for name in _FILES:
                if (source / name).is_file():
                    shutil.copyfile(source / name, tmp / name)
            os.rename(tmp, store.root / DEMO_MODEL_ID)
            fsync_dir(store.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        info = store.get(DEMO_MODEL_ID)
    if activate_if_none and store.active() is None:
        store.activate(info.id)
    return info


def install_on_first_start(store: ModelStore, settings: AppSettings) -> ModelInfo | None:
    """On the very first start, with an empty store, install and activate the demo model so every page has
    something to show. Later starts never do it again (a user who deleted it keeps it deleted).
    The caller saves the settings."""
    if settings.demo_model_offered:
        return None
    info = None if store.list() else install_demo_model(store)  # a failed install is tried again next start
    settings.demo_model_offered = True
    return info
