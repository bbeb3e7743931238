"""Workspace layout and the explicit class mapping.

A workspace is a folder with one sub-folder per class and an inbox of unsorted images:

    workspace/
      GO/  NG/        class folders (names configurable, e.g. 100/ = GO and 60/ = NG)
      inbox/          unsorted images; training ignores them
      trash/          where the app "deletes" to
      captures/       the camera station's saved frames
      fanqc-workspace.json   optional: {"schema": 1, "go_folder": "...", "ng_folder": "..."}

The model's one sigmoid output is always P(NG): NG is the positive (defect) class whatever the folder
names sort to. This removes the reference script's pitfall of labels coming from alphabetical order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fanqc_gui.core.atomic_io import write_json_atomic

WORKSPACE_FILE = "fanqc-workspace.json"
WORKSPACE_SCHEMA = 1
GO, NG = 0, 1
CLASS_NAMES = ("GO", "NG")


@dataclass(frozen=True)
class ClassMapping:
    """Which folder holds which class. Label 0 = GO, label 1 = NG; the model outputs P(NG)."""

    go_folder: str = "GO"
    ng_folder: str = "NG"

    def __post_init__(self):
        for name in (self.go_folder, self.ng_folder):
            if not name or "/" in name or "\\" in name or name in (".", ".."):
                raise ValueError(f"invalid class folder name {name!r}")
        if self.go_folder == self.ng_folder:
            raise ValueError("GO and NG must be different folders")

    def folder_of(self, label: int) -> str:
        return self.ng_folder if label == NG else self.go_folder

    def describe(self) -> str:
        return (f"output = probability of NG (defect); NG = folder '{self.ng_folder}', "
                f"GO = folder '{self.go_folder}'")

    def to_dict(self) -> dict:
        return {
            "output": "P(NG)",
            "positive_class": "NG",
            "labels": {"GO": GO, "NG": NG},
            "folders": {"GO": self.go_folder, "NG": self.ng_folder},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ClassMapping":
        folders = data.get("folders", data)
        return cls(go_folder=folders.get("GO", folders.get("go_folder", "GO")),
                   ng_folder=folders.get("NG", folders.get("ng_folder", "NG")))


@dataclass(frozen=True)
class Workspace:
    root: Path
    mapping: ClassMapping = field(default_factory=ClassMapping)
    inbox_folder: str = "inbox"
    trash_folder: str = "trash"
    captures_folder: str = "captures"

    @property
    def go_dir(self) -> Path:
        return self.root / self.mapping.go_folder

    @property
    def ng_dir(self) -> Path:
        return self.root / self.mapping.ng_folder

    @property
    def inbox_dir(self) -> Path:
        return self.root / self.inbox_folder

    @property
    def trash_dir(self) -> Path:
        return self.root / self.trash_folder

    @property
    def captures_dir(self) -> Path:
        return self.root / self.captures_folder

    def class_dir(self, label: int) -> Path:
        return self.root / self.mapping.folder_of(label)

    def ensure_folders(self) -> None:
        for d in (self.go_dir, self.ng_dir, self.inbox_dir):
            d.mkdir(parents=True, exist_ok=True)

    def save_settings(self) -> None:
        write_json_atomic(self.root / WORKSPACE_FILE, {
            "schema": WORKSPACE_SCHEMA, "go_folder": self.mapping.go_folder,
            "ng_folder": self.mapping.ng_folder, "inbox_folder": self.inbox_folder})


def open_workspace(root: str | Path, go_folder: str | None = None, ng_folder: str | None = None) -> Workspace:
    """The workspace at root, with folder names from its settings file unless given explicitly."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"workspace folder not found: {root}")
    settings: dict = {}
    settings_file = root / WORKSPACE_FILE
    if settings_file.is_file():
        try:
            settings = json.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {settings_file.name}: {exc}") from None
        if not isinstance(settings, dict):
            raise ValueError(f"cannot read {settings_file.name}: expected an object with folder names")
    names = {key: settings.get(key, default) for key, default in
             (("go_folder", "GO"), ("ng_folder", "NG"), ("inbox_folder", "inbox"))}
    for key, value in names.items():
        if isinstance(value, int) and not isinstance(value, bool):
            names[key] = str(value)  # {"go_folder": 100} written by hand means the folder "100"
        elif not isinstance(value, str):
            raise ValueError(f"cannot read {settings_file.name}: {key} must be a folder name, not {value!r}")
    mapping = ClassMapping(go_folder=go_folder or names["go_folder"], ng_folder=ng_folder or names["ng_folder"])
    return Workspace(root=root, mapping=mapping, inbox_folder=names["inbox_folder"])
