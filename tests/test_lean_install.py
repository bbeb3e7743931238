"""A station install without TensorFlow: `pip install fanqc-gui` (no `train` extra) into a fresh virtual
environment. The app passes its self-test there, and the station judges a video with a model trained
elsewhere, from model.tflite + metadata.json; training says in one line what to install."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fanqc_gui.core.models.demo_model import shipped_demo_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lean_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("lean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Built from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    source = tmp_path_factory.mktemp("src") / "fanqc"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv*", ".git", "build", "dist", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", "docs", "bench"))
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", str(source)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return venv


def run(venv: Path, *args, timeout=120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_the_lean_install_has_no_tensorflow_and_passes_the_self_test(lean_venv):
    assert run(lean_venv, "python", "-c", "import tensorflow").returncode != 0
    assert run(lean_venv, "python", "-c", "import keras").returncode != 0
    out = run(lean_venv, "fanqc-gui", "--self-test")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "TensorFlow not installed: training, Grad-CAM and feature maps are off" in out.stdout
    assert "demo images judged right" in out.stdout and out.stdout.strip().endswith("self-test passed")


def test_the_station_judges_a_video_with_a_model_trained_elsewhere(lean_venv, tmp_path):
    store = tmp_path / "models"
    folder = store / "trained-elsewhere"
    folder.mkdir(parents=True)
    for name in ("model.tflite", "metadata.json"):  # what a station needs; no model.keras at all
        shutil.copyfile(shipped_demo_model() / name, folder / name)
    (tmp_path / "ws").mkdir()
    video = tmp_path / "parts.avi"
    made = run(lean_venv, "python", "-c", f"from fanqc_gui.core.dataset.demo_data import write_demo_video; "
                                          f"write_demo_video({str(video)!r}, parts=4)")
    assert made.returncode == 0, made.stderr
    out = run(lean_venv, "fanqc", "inspect", "--source", str(video), "--model", str(folder), "--models", str(store),
              "--workspace", str(tmp_path / "ws"), "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["frames"] > 0 and result["go"] + result["ng"] == result["frames"]
    assert result["backend"] == "litert" and result["model"] == "trained-elsewhere"


def test_training_without_tensorflow_is_one_clear_line(lean_venv, tmp_path):
    made = run(lean_venv, "fanqc", "demo-data", str(tmp_path / "ws"), "--per-class", "6", "--inbox", "0", "--quiet")
    assert made.returncode == 0, made.stderr
    out = run(lean_venv, "fanqc", "train", str(tmp_path / "ws"), "--models", str(tmp_path / "m"))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert 'TensorFlow is not installed; install the training extra: pip install "fanqc-gui[train]"' in out.stderr
