"""An anomaly model at the station (issue 16): each verdict carries the map of where the crop differs, and an NG
capture is saved with that map drawn over it beside it; a classifier's verdicts carry none."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from station_anomaly_helpers import anomaly_store
from station_helpers import PART_ROI, demo_video, video_frames

from fanqc_gui.core.dataset.workspace import open_workspace
from fanqc_gui.core.station.camera_sources import Frame
from fanqc_gui.core.station.captures import map_path_for
from fanqc_gui.core.station.inspection_log import InspectionLog
from fanqc_gui.core.station.pipeline import Station
from fanqc_gui.core.station.station_settings import CaptureRules, Roi, StationSettings
from fanqc_gui.core.tf_runtime import tensorflow_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not tensorflow_available(), reason="TensorFlow not installed")]
KEEP_ALL = CaptureRules(save_ng=True, go_fraction=1.0, max_per_minute=100_000, min_free_mb=0, image_format="png")


def frame(image, index):
    return Frame(image, index, float(index), float(index))


def test_an_anomaly_model_gives_a_map_per_verdict_and_ng_captures_keep_it(tmp_path, tmp_path_factory,
                                                                         demo_workspace_template):
    store = anomaly_store(tmp_path_factory, tmp_path / "models")
    shutil.copytree(demo_workspace_template, tmp_path / "ws")
    ws = open_workspace(tmp_path / "ws")
    station = Station(ws, store, StationSettings(roi=Roi(*PART_ROI), capture=KEEP_ALL))
    images = video_frames(demo_video(tmp_path_factory)[0])[:3]
    try:
        assert station.predictor.is_anomaly
        verdicts = [station.process(frame(img, i)) for i, img in enumerate(images)]
        grid = tuple(station.predictor.info.metadata["anomaly"]["grid"])
        assert all(v.verdict == "NG" and v.anomaly_map is not None and v.anomaly_map.shape == grid for v in verdicts)
        # the map is the one the model gives for this crop, not a stale one of another frame
        x, y, w, h = PART_ROI
        _, expected = station.predictor.predict_frame_with_map(images[1][y:y + h, x:x + w])
        np.testing.assert_allclose(verdicts[1].anomaly_map, expected, rtol=1e-5, atol=1e-6)
        station.flush()
        for v in verdicts:
            capture = ws.root / v.capture_path
            drawn = cv2.imread(str(map_path_for(capture)))
            assert drawn is not None and drawn.shape == (h, w, 3)
            assert not np.array_equal(drawn, cv2.imread(str(capture)))  # the map is drawn over the crop
        # the log lists the crop; the map lies beside it (never a row of its own)
        log = InspectionLog.for_workspace(ws.root)
        assert [r.image_path for r in log.recent(10)][::-1] == [v.capture_path for v in verdicts]
        log.close()
        # GO verdicts (threshold 1.0) keep their crop but no map: only NG captures get one
        store.update_metadata(store.active_id(), threshold=1.0)
        station.check_model(force=True)
        go = station.process(frame(images[2], 3))
        assert go.verdict == "GO" and go.anomaly_map is not None and go.capture_path
        assert not map_path_for(ws.root / go.capture_path).exists()
    finally:
        station.close()
