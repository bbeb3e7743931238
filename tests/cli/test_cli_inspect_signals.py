"""`fanqc inspect` run as a service: a SIGTERM (systemd's stop) or SIGINT ends it between two frames with
every judged frame logged, each kept image paired with its log row, and the summary printed."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from station_helpers import PART_ROI, demo_video, store_with_active_model

from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_the_run_with_everything_logged(tmp_path_factory, demo_workspace_template, tmp_path,
                                                          sig):
    store = store_with_active_model(tmp_path_factory, demo_workspace_template, tmp_path / "models")
    ws = tmp_path / "ws"
    shutil.copytree(demo_workspace_template, ws)
    video, _ = demo_video(tmp_path_factory)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fanqc_gui.cli", "inspect", "--source", str(video), "--loop", "--realtime",
         "--roi", ",".join(map(str, PART_ROI)), "--workspace", str(ws), "--models", str(store.root), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    log_file = ws / ".fanqc" / "inspections.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not log_file.exists():
        time.sleep(0.2)
    time.sleep(3)  # a few seconds of judging at the video's own pace
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    doc = json.loads(out)
    assert doc["stopped_by"] == f"stopped by {sig.name}" and doc["frames"] > 0
    log = InspectionLog.for_workspace(ws)
    try:
        assert log.counts(run_id=doc["run_id"])["total"] == doc["frames"]
        rows_with_image = log.recent(100_000, run_id=doc["run_id"], with_image=True)
        assert len(rows_with_image) == doc["captures_saved"]
    finally:
        log.close()
    kept = [p for p in (ws / "captures").rglob("*") if p.is_file()] if (ws / "captures").exists() else []
    assert len(kept) == doc["captures_saved"]
