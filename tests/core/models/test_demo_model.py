"""The shipped demo model: installed once into the store on first start, active, and right on demo parts."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from fanqc_gui.core.app_settings import AppSettings
from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
from fanqc_gui.core.models import demo_model
from fanqc_gui.core.models.demo_model import (
    DEMO_IMAGE_SIZE,
    DEMO_MODEL_ID,
    install_demo_model,
    install_on_first_start,
    shipped_demo_model,
)
from fanqc_gui.core.models.inference import Predictor, expand_paths
from fanqc_gui.core.models.model_store import ModelStore, ModelStoreError


def test_shipped_files_describe_a_48px_reference_cnn_with_its_preprocessing():
    folder = shipped_demo_model()
    assert {p.name for p in folder.iterdir()} >= {"model.keras", "model.tflite", "metadata.json"}
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["source"] == "demo" and meta["architecture"] == "reference_cnn"
    assert meta["input_size"] == [DEMO_IMAGE_SIZE, DEMO_IMAGE_SIZE, 3]
    assert meta["preprocessing"]["width"] == DEMO_IMAGE_SIZE and meta["preprocessing"]["interpolation"] == "area"
    assert meta["class_mapping"]["folders"] == {"GO": "GO", "NG": "NG"} and meta["class_mapping"]["output"] == "P(NG)"
    assert meta["validation_files"] == []  # its training images do not exist on the user's machine
    assert 0 < meta["threshold"] <= 0.5


def test_installed_demo_model_is_active_and_judges_unseen_demo_parts(tmp_path):
    store = ModelStore(tmp_path / "models")
    info = install_demo_model(store)
    assert info.id == DEMO_MODEL_ID and store.active_id() == DEMO_MODEL_ID
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no temp folder left
    ws = generate_demo_workspace(tmp_path / "ws", per_class=20, inbox=0, seed=0).root
    predictor = Predictor(info)  # LiteRT, from model.tflite: what a station without TensorFlow runs
    assert predictor.backend_name == "litert"
    go = predictor.predict_paths(expand_paths([ws / "GO"]))
    ng = predictor.predict_paths(expand_paths([ws / "NG"]))
    correct = sum(r.verdict == "GO" for r in go) + sum(r.verdict == "NG" for r in ng)
    assert correct >= 39, [(r.path, r.p_ng) for r in go + ng]


def test_installing_again_keeps_the_copy_and_the_users_active_model(tmp_path):
    store = ModelStore(tmp_path / "models")
    install_demo_model(store)
    shutil.copytree(store.root / DEMO_MODEL_ID, store.root / "mine")
    store.activate("mine")
    (store.root / DEMO_MODEL_ID / "metadata.json").write_text(
        (store.root / DEMO_MODEL_ID / "metadata.json").read_text().replace('"demo"', '"demo-renamed"'))
    info = install_demo_model(store)
    assert info.metadata["source"] == "demo-renamed"  # not overwritten
    assert store.active_id() == "mine"


def test_first_start_installs_once_and_never_into_a_store_with_models(tmp_path):
    settings = AppSettings()
    store = ModelStore(tmp_path / "models")
    assert install_on_first_start(store, settings).id == DEMO_MODEL_ID
    assert settings.demo_model_offered
    store.activate(DEMO_MODEL_ID)
    (store.root / "active.json").unlink()
    store.delete(DEMO_MODEL_ID)  # the user deleted it: it stays deleted
    assert install_on_first_start(store, settings) is None and store.list() == []

    other = ModelStore(tmp_path / "other")
    shutil.copytree(shipped_demo_model(), other.root / "trained-elsewhere")
    fresh = AppSettings()
    assert install_on_first_start(other, fresh) is None and fresh.demo_model_offered
    assert [i.id for i in other.list()] == ["trained-elsewhere"]


def test_a_failed_copy_leaves_no_half_model(tmp_path, monkeypatch):
    store = ModelStore(tmp_path / "models")
    real = shutil.copyfile

    def failing(src, dst, *args, **kwargs):
        if str(dst).endswith("model.tflite"):
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(demo_model.shutil, "copyfile", failing)
    with pytest.raises(OSError):
        install_demo_model(store)
    assert list(store.root.iterdir()) == [] and store.active() is None


def test_an_installation_without_its_demo_model_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_model, "shipped_demo_model", lambda: tmp_path / "nothing")
    with pytest.raises(ModelStoreError, match="lacks its demo model"):
        install_demo_model(ModelStore(tmp_path / "models"))


def test_versions_come_from_metadata_without_importing_tensorflow():
    code = ("import sys, json; from fanqc_gui.core.versions import component_versions; v = component_versions(); "
            "print(json.dumps(v)); print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-NOT-LOADED')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    versions = json.loads(out.splitlines()[0])
    assert versions["TensorFlow"].startswith("2.") and versions["OpenCV"] and versions["LiteRT"]
    assert out.splitlines()[1] == "TF-NOT-LOADED"
