"""An anomaly model for the station tests: PaDiM trained once per session on 20 small generated GO parts at the
smallest input the anomaly trainer takes (32 px), really trained, LiteRT at the station like any model.

Its threshold is set very low in each test's copy, so every part is NG and its map is drawn (the tests are
about the map reaching the operator and the captures, not about how well 20 parts describe "good").
"""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

from fanqc_gui.core.models.model_store import ModelStore

_cache: dict = {}
_lock = threading.Lock()
ALL_NG_THRESHOLD = 0.001


def anomaly_store(tmp_path_factory, dest: Path, threshold: float = ALL_NG_THRESHOLD) -> ModelStore:
    """A private copy of the session's anomaly model store under dest, the model active at `threshold`."""
    with _lock:
        if "store" not in _cache:
            from fanqc_gui.core.dataset.demo_data import generate_demo_workspace
            from fanqc_gui.core.dataset.workspace import open_workspace
            from fanqc_gui.core.models.anomaly.options import AnomalyOptions
            from fanqc_gui.core.training.anomaly_training import train_anomaly

            base = tmp_path_factory.mktemp("anomaly-station")
            generate_demo_workspace(base / "ws", per_class=20, inbox=0, size=64, seed=3)
            shutil.rmtree(base / "ws" / "NG")  # trained from good parts alone
            result = train_anomaly(open_workspace(base / "ws"), ModelStore(base / "models"),
                                   AnomalyOptions(input_size="32"))
            assert result.model is not None and result.model.metadata.get("kind") == "anomaly"
            _cache["store"] = (base / "models", result.model.id)
    root, model_id = _cache["store"]
    shutil.copytree(root, dest)
    store = ModelStore(dest)
    store.activate(model_id)
    store.update_metadata(model_id, threshold=threshold)
    return store
