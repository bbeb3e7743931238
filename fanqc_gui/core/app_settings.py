"""The app's own small settings file (versioned JSON, atomic writes): last and recent workspaces, the
workspace to open at start, the model store folder and the theme.

Window geometry lives in QSettings (ui); everything that is domain state lives here, readable by scripts.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fanqc_gui.core.atomic_io import write_json_atomic
from fanqc_gui.core.paths import model_store_for, user_config_dir

SETTINGS_FILE = "settings.json"
SETTINGS_SCHEMA = 1
MAX_RECENT = 8
THEMES = ("system", "light", "dark")


@dataclass
class AppSettings:
    last_workspace: str | None = None
    recent_workspaces: list[str] = field(default_factory=list)
    demo_model_offered: bool = False  # the shipped demo model is installed once, on the first start
    default_workspace: str | None = None  # opened at start instead of the last one
    model_store: str | None = None  # None: the user data folder's models/ ($FANQC_MODELS overrides both)
    theme: str = "system"  # system, light or dark

    def remember_workspace(self, root: str | Path) -> None:
        """Make root the last workspace and the first of the recent ones (at most MAX_RECENT)."""
        root = os.fspath(Path(root).expanduser().resolve())
        self.last_workspace = root
        self.recent_workspaces = [root] + [r for r in self.recent_workspaces if r != root][:MAX_RECENT - 1]

    def forget_workspace(self, root: str | Path) -> None:
        root = os.fspath(root)
        self.recent_workspaces = [r for r in self.recent_workspaces if r != root]
        if self.last_workspace == root:
            self.last_workspace = None

    def to_dict(self) -> dict:
        return {"schema": SETTINGS_SCHEMA, "last_workspace": self.last_workspace,
                "recent_workspaces": list(self.recent_workspaces), "demo_model_offered": self.demo_model_offered,
                "default_workspace": self.default_workspace, "model_store": self.model_store, "theme": self.theme}

    @classmethod
    def from_dict(cls, data: dict) -> "AppSettings":
        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        recent = [r for r in data.get("recent_workspaces", []) if isinstance(r, str)]
        return cls(last_workspace=text("last_workspace"),
                   recent_workspaces=list(dict.fromkeys(recent))[:MAX_RECENT],
                   demo_model_offered=data.get("demo_model_offered") is True,
                   default_workspace=text("default_workspace"), model_store=text("model_store"),
                   theme=data.get("theme") if data.get("theme") in THEMES else "system")


def settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> AppSettings:
    """The saved settings; defaults when the file is missing, unreadable or from a newer FanQC."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return AppSettings()
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int) or data["schema"] > SETTINGS_SCHEMA:
        return AppSettings()
    return AppSettings.from_dict(data)


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    write_json_atomic(path or settings_path(), settings.to_dict())


def default_model_store() -> Path:
    """The store the app and every `fanqc` command use, by the saved settings (see model_store_for)."""
    return model_store_for(load_settings().model_store)
