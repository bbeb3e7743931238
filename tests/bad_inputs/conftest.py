"""Fixtures of the bad-input corpus: `fanqc` run as a user runs it, and the corpus written once per module."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # corpus.py and corpus_runs.py, next to the tests


@pytest.fixture(scope="module")
def corpus_workspace(tmp_path_factory) -> Path:
    from corpus import make_corpus_workspace

    root = make_corpus_workspace(tmp_path_factory.mktemp("corpus") / "ws")
    yield root
    for p in root.rglob("*"):  # chmod 000 files must be removable by the tmp cleanup
        if not p.is_symlink():
            try:
                p.chmod(0o755 if p.is_dir() else 0o644)
            except OSError:
                pass


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """A model store holding the shipped demo model (48x48 reference CNN, judged through LiteRT)."""
    from fanqc_gui.core.models.demo_model import install_demo_model
    from fanqc_gui.core.models.model_store import ModelStore

    store = ModelStore(tmp_path_factory.mktemp("store") / "models")
    install_demo_model(store)
    return store.root
