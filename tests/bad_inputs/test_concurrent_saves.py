"""20 processes save a model into one store at the same moment (20 `fanqc train` finishing together): every
model is kept under its own id, none overwrites or loses another, no temporary folder is left behind.

The saves are the store's real `save` (what `save_trained` ends with) from separate processes; the Keras file
is a stand-in, so the test takes seconds. bench/concurrent_trainings.py runs 20 real `fanqc train` processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

N = 20

_SAVER = """
import json, sys, time
from fanqc_gui.core.models.model_store import ModelStore

class Model:
    def __init__(self, tag): self.tag = tag
    def save(self, path):
        with open(path, "w") as fh: fh.write(self.tag)

root, tag, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
info = ModelStore(root).save(Model(tag), {"preprocessing": {"width": 32, "height": 32}, "threshold": 0.5,
                                          "name": tag}, b"tflite " + tag.encode())
print(json.dumps({"id": info.id, "tag": tag}))
"""


def test_twenty_processes_saving_at_once_lose_no_model(tmp_path):
    root = tmp_path / "models"
    start = time.time() + 3  # all imports done by then, on a busy machine too
    procs = [subprocess.Popen([sys.executable, "-c", _SAVER, str(root), f"model-{i}", str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(N)]
    outcomes = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outcomes):
        assert p.returncode == 0 and "Traceback" not in err, err
    saved = [json.loads(out) for out, _ in outcomes]
    assert len({s["id"] for s in saved}) == N

    from fanqc_gui.core.models.model_store import ModelStore

    infos = ModelStore(root).list()
    assert sorted(i.name for i in infos) == sorted(f"model-{i}" for i in range(N))
    for info in infos:  # each folder holds its own model
        assert (info.folder / "model.keras").read_text() == info.name
        assert info.tflite_path.read_bytes() == b"tflite " + info.name.encode()
        assert info.metadata["id"] == info.id
    assert not [p for p in os.listdir(root) if p.startswith(".")]
