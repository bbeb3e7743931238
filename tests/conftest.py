"""Shared fixtures: offscreen Qt, an isolated config/data/model dir per test, and tiny generated data."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Module- and session-scoped fixtures run before a test's own user dirs are set: they share this cache
# (converted networks) instead of the real user's.
_SESSION_CACHE = tempfile.mkdtemp(prefix="fanqc-test-cache-")
os.environ["FANQC_CACHE_DIR"] = _SESSION_CACHE
atexit.register(shutil.rmtree, _SESSION_CACHE, True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import pytest  # noqa: E402

import fanqc_gui  # noqa: E402,F401 - sets OpenCV's decode limit before a test module imports cv2


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's settings, data or model store."""
    base = tmp_path_factory.mktemp("user")
    for var, sub in (("FANQC_DATA_DIR", "data"), ("FANQC_CONFIG_DIR", "config"), ("FANQC_MODELS", "models"),
                     ("FANQC_CACHE_DIR", "cache")):
        monkeypatch.setenv(var, str(base / sub))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
    yield


@pytest.fixture(scope="session")
def demo_workspace_template(tmp_path_factory):
    """A small demo workspace generated once per session; tests copy it before changing anything."""
    from fanqc_gui.core.dataset.demo_data import generate_demo_workspace

    root = tmp_path_factory.mktemp("demo-template") / "ws"
    generate_demo_workspace(root, per_class=24, inbox=8, size=96, seed=3)
    return root


@pytest.fixture
def demo_workspace(demo_workspace_template, tmp_path):
    import shutil

    dest = tmp_path / "ws"
    shutil.copytree(demo_workspace_template, dest)
    return dest
