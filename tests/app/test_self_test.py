"""`fanqc-gui --self-test` from source, and the first start of the app on a fresh machine."""
from __future__ import annotations

import os
import subprocess
import sys

from fanqc_gui.core.app_settings import default_model_store, load_settings
from fanqc_gui.core.models.model_store import ModelStore
from fanqc_gui.core.paths import user_data_dir


def test_self_test_passes_in_process_and_leaves_the_users_folders_alone():
    from fanqc_gui.app.self_test import run_self_test

    lines: list[str] = []
    assert run_self_test(lines.append) == 0, lines
    text = "\n".join(lines)
    assert "4 pages (Dataset, Training, Insight, Camera)" in text
    assert "12/12 demo images judged right" in text and "litert" in text
    assert "station (litert-int8): 4 frames" in text and lines[-1] == "self-test passed"
    assert not user_data_dir().exists() and not default_model_store().exists()  # all in a temp folder
    assert os.environ["FANQC_MODELS"] == str(default_model_store())  # environment restored


def test_fanqc_gui_self_test_command_exits_0():
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # it must choose offscreen itself
    env.pop("DISPLAY", None)
    out = subprocess.run([sys.executable, "-m", "fanqc_gui.app", "--self-test"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "self-test passed"


def test_a_failing_check_gives_exit_status_1(monkeypatch):
    from fanqc_gui.app.self_test import run_self_test
    from fanqc_gui.core.models import demo_model

    monkeypatch.setattr(demo_model, "shipped_demo_model", lambda: user_data_dir() / "missing")
    lines: list[str] = []
    assert run_self_test(lines.append) == 1
    assert lines[-1].startswith("self-test FAILED:") and "lacks its demo model" in lines[-1]


def test_first_start_installs_the_demo_model_and_the_demo_workspace(qtbot, monkeypatch):
    from fanqc_gui.app import composition as app_module
    from fanqc_gui.workers import demo_builder

    real = demo_builder.generate_demo_workspace
    monkeypatch.setattr(demo_builder, "generate_demo_workspace",
                        lambda root, **kw: real(root, per_class=6, inbox=4, size=64))
    app_module.ensure_app()
    parts = app_module.launch()
    qtbot.addWidget(parts.window)
    qtbot.waitUntil(lambda: parts.workspaces.workspace is not None, timeout=20_000)
    store = ModelStore(default_model_store())
    assert store.active_id() == "demo-model"
    assert parts.insight.model_info is not None and parts.insight.model_info.id == "demo-model"
    assert "demo-model" in parts.training.models.model_ids()
    assert load_settings().demo_model_offered
    parts.window.close()

    store.root.joinpath("active.json").unlink()
    store.delete("demo-model")
    again = app_module.launch()  # the second start does not bring it back
    qtbot.addWidget(again.window)
    assert store.list() == []
    again.window.close()


def test_self_test_passes_without_standard_streams():
    """A windowed build (Windows) has no stdout/stderr: loading the model must not need them."""
    out = subprocess.run([sys.executable, "-m", "fanqc_gui.app", "--self-test"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, close_fds=True,
                         preexec_fn=lambda: (os.close(1), os.close(2)))
    assert out.returncode == 0
