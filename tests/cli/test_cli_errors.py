"""`fanqc` as a user runs it (a subprocess): a failure in the first seconds of training, while TensorFlow is
still being imported in the background, prints its one-line error and, with --json, its JSON document; a
run shows its own progress, without TensorFlow's C++ start-up lines."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest


def _fanqc(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fanqc_gui.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "text"])
def test_train_without_ng_images_says_why(demo_workspace, json_output):
    shutil.rmtree(demo_workspace / "NG")
    result = _fanqc("train", str(demo_workspace), *(["--json"] if json_output else []))
    assert result.returncode == 2
    assert "fanqc: error:" in result.stderr and "NG" in result.stderr.split("fanqc: error:")[1]
    # TensorFlow's C++ start-up lines (printed whatever TF_CPP_MIN_LOG_LEVEL says) are not the user's business
    assert "absl::InitializeLog" not in result.stderr and "oneDNN custom operations" not in result.stderr
    if json_output:
        document = json.loads(result.stdout)
        assert "NG" in document["error"]


def test_a_training_run_shows_its_progress_without_tensorflows_start_up_lines(demo_workspace, tmp_path):
    result = _fanqc("train", str(demo_workspace), "--preset", "reference", "--epochs", "1", "--image-size", "32",
                    "--models", str(tmp_path / "models"))
    assert result.returncode == 0, result.stderr
    assert "Reading and decoding images..." in result.stderr and "Loading TensorFlow..." in result.stderr
    assert "saved " in result.stderr
    assert "absl::InitializeLog" not in result.stderr and "oneDNN custom operations" not in result.stderr
