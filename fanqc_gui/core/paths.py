"""Where FanQC keeps things by default (overridable by environment variables for tests and stations)."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "FanQC"


def user_data_dir() -> Path:
    return Path(os.environ.get("FANQC_DATA_DIR") or platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    return Path(os.environ.get("FANQC_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """What can be made again (converted networks): safe to delete at any time."""
    return Path(os.environ.get("FANQC_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def model_store_for(chosen: str | None) -> Path:
    """$FANQC_MODELS, else the folder chosen in the settings, else models/ in the user data folder."""
    if os.environ.get("FANQC_MODELS"):
        return Path(os.environ["FANQC_MODELS"])
    return Path(chosen).expanduser() if chosen else user_data_dir() / "models"


def demo_workspace_dir() -> Path:
    return user_data_dir() / "demo-workspace"
