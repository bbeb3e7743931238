"""Fixtures of the line I/O tests: a real broker, a station with a really trained model on a copied workspace."""
from __future__ import annotations

import shutil

import pytest
from line_io_helpers import broker  # noqa: F401 - the fixture, for every test here
from station_helpers import store_with_active_model

from fanqc_gui.core.dataset.workspace import open_workspace


@pytest.fixture
def station_env(tmp_path_factory, demo_workspace_template, tmp_path):
    """(workspace, model store with its active model) for a Station."""
    from fanqc_gui.core.tf_runtime import tensorflow_available

    if not tensorflow_available():
        pytest.skip("TensorFlow not installed (needed to train the test model)")
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    return open_workspace(tmp_path / "ws"), store
