"""Station building blocks that need no model: trigger modes, ROI, settings file, timing statistics."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanqc_gui.core.station.camera_sources import Frame
from fanqc_gui.core.station.latency_stats import LatencyHistogram, RateMeter
from fanqc_gui.core.station.station_settings import (
    CaptureRules,
    Roi,
    StationSettings,
    load_station_settings,
    save_station_settings,
    settings_path,
)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def frame_at(t: float) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), 0, t, t)


def test_roi_text_and_clamping():
    assert Roi.parse("10, 20,30,40") == Roi(10, 20, 30, 40)
    assert Roi.parse("full") is None and Roi.parse("") is None
    for bad in ("1,2,3", "a,b,c,d", "1,2,0,5", "-1,0,5,5"):
        with pytest.raises(ValueError):
            Roi.parse(bad)
    assert Roi(600, 400, 100, 100).clamped(640, 480) == Roi(600, 400, 40, 80)
    assert Roi(700, 0, 10, 10).clamped(640, 480) is None
    img = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    assert np.array_equal(Roi(5, 6, 7, 8).crop(img), img[6:14, 5:12])


def test_station_settings_round_trip_per_station_and_atomically():
    a = StationSettings(name="line-1", roi=Roi(1, 2, 30, 40), mode="interval", interval_ms=750,
                        capture=CaptureRules(go_fraction=0.1, max_per_minute=30), source="0", source_kind="camera")
    b = StationSettings(name="line-2", roi=None, realtime=True, source="/videos/x.avi", source_kind="file")
    save_station_settings(a)
    save_station_settings(b)
    assert load_station_settings("line-1") == a and load_station_settings("line-2") == b
    data = json.loads(settings_path().read_text())
    assert data["version"] == 1 and set(data["stations"]) == {"line-1", "line-2"}
    assert [p.name for p in settings_path().parent.iterdir()] == ["station.json"]  # no temp files left
    assert load_station_settings("never-saved") == StationSettings(name="never-saved")


def test_damaged_or_newer_settings_fall_back_to_defaults():
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert load_station_settings("x") == StationSettings(name="x")
    path.write_text(json.dumps({"version": 1, "stations": {"x": {"roi": [1, 2], "mode": "warp"}}}))
    assert load_station_settings("x") == StationSettings(name="x")
    path.write_text(json.dumps({"version": 99, "stations": {"x": {"roi": [1, 2, 3, 4]}}}))
    assert load_station_settings("x").roi is None
    with pytest.raises(ValueError, match="newer FanQC"):
        save_station_settings(StationSettings(name="x"))


def test_capture_rules_refuse_nonsense():
    with pytest.raises(ValueError, match="between 0 and 1"):
        CaptureRules(go_fraction=1.5)
    with pytest.raises(ValueError, match="format"):
        CaptureRules(image_format="gif")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=5000.0), min_size=1, max_size=400))
def test_latency_percentiles_are_within_one_percent(samples):
    hist = LatencyHistogram()
    for s in samples:
        hist.add(s)
    for q in (50, 99):
        exact = float(np.percentile(samples, q, method="inverted_cdf"))
        assert hist.percentile(q) == pytest.approx(exact, rel=0.011)
    assert hist.count == len(samples) and hist.max_ms == max(samples)


def test_latency_histogram_has_constant_size():
    hist = LatencyHistogram()
    size = hist._counts.nbytes
    rng = np.random.default_rng(0)
    for v in rng.lognormal(0, 1, 100_000):
        hist.add(v)
    assert hist._counts.nbytes == size and hist.count == 100_000
    assert hist.percentile(50) == pytest.approx(1.0, rel=0.03)
    hist.reset()
    assert hist.percentile(50) is None


def test_rate_meter_counts_recent_events_only():
    clock = Clock()
    meter = RateMeter(window_s=2.0, clock=clock)
    for i in range(101):
        meter.tick(100.0 + i * 0.01)  # 100 per second for one second
    clock.t = 101.0
    assert meter.rate() == pytest.approx(100.0)
    clock.t = 110.0
    assert meter.rate() == 0.0
