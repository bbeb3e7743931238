"""Trigger modes without a model: which frame answers a trigger (never one taken before it, with the real capture
thread and its mailbox), ERROR answers for triggers that cannot be served, and part presence in the ROI."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from station_helpers import FakeCamera, demo_video

from fanqc_gui.core.dataset.demo_data import render_part
from fanqc_gui.core.station.camera_sources import Frame, SourceSpec, open_source
from fanqc_gui.core.station.frame_grabber import FrameGrabber
from fanqc_gui.core.station.line_io import register_map as rm
from fanqc_gui.core.station.line_io.line_settings import TriggerSettings
from fanqc_gui.core.station.line_io.triggers import LineTriggers, PresenceDetector


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def frame_at(t: float, index: int = 0) -> Frame:
    return Frame(np.zeros((8, 8, 3), np.uint8), index, t, t)


def answer(triggers: LineTriggers, grabber: FrameGrabber, timeout: float = 5.0):
    """What a station loop does for one trigger: read frames until one answers it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = grabber.get(timeout=0.1)
        if isinstance(frame, Frame) and (trigger := triggers.take(frame)) is not None:
            return trigger, frame
    raise AssertionError("no frame answered the trigger")


def test_a_live_camera_frame_waiting_in_the_mailbox_is_never_judged_for_a_later_trigger(tmp_path_factory):
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(50)]
    grabber = FrameGrabber(open_source(SourceSpec("camera", "0"), FakeCamera.factory(frames, fps=100.0)))
    triggers = LineTriggers("plc", live=True, frame_period_s=0.01)
    grabber.start()
    try:
        for _ in range(5):
            time.sleep(0.05)               # the capture thread keeps the newest frame in the mailbox meanwhile
            waiting = grabber.mailbox._items[0] if len(grabber.mailbox) else None
            assert triggers.fire("plc", "P1", trigger_id=7)
            trigger, frame = answer(triggers, grabber)
            assert (trigger.source, trigger.part_id, trigger.trigger_id) == ("plc", "P1", 7)
            # exposed after the trigger: grabbed at least one frame period after it
            assert frame.grabbed_at >= trigger.at + 0.01
            assert waiting is None or frame.index > waiting.index
    finally:
        grabber.stop()
    assert triggers.skipped_stale >= 5


def test_a_recording_read_ahead_before_the_trigger_is_skipped(tmp_path_factory):
    path, _ = demo_video(tmp_path_factory)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))  # recorded: a queue of decoded frames
    triggers = LineTriggers("triggered")
    grabber.start()
    try:
        time.sleep(0.3)                     # the queue fills while no trigger is waiting
        queued = [f.index for f in list(grabber.mailbox._items)]
        assert len(queued) >= 4
        triggers.fire()
        trigger, frame = answer(triggers, grabber)
        assert frame.index > max(queued) and frame.grabbed_at >= trigger.at and trigger.source == "software"
        assert not triggers.wants_frames()  # nothing waits: the loop stops reading frames
    finally:
        grabber.stop()


def test_each_mode_takes_only_its_own_triggers():
    cases = {"continuous": set(), "triggered": {"software"}, "interval": {"software"}, "plc": {"plc"},
             "mqtt": {"mqtt", "software"}, "presence": {"software"}}
    for mode, taken in cases.items():
        triggers = LineTriggers(mode)
        assert {s for s in ("software", "plc", "mqtt") if triggers.fire(s)} == taken, mode
    paused = LineTriggers("plc")
    paused.paused = True                      # the operator paused the station: nothing is taken
    assert not paused.fire("plc") and not paused.wants_frames()
    with pytest.raises(ValueError, match="unknown trigger mode 'opc'; use one of continuous, software, interval"):
        LineTriggers("opc")


def test_continuous_judges_every_frame_and_interval_one_per_period():
    clock = Clock()
    cont = LineTriggers("continuous", clock=clock)
    assert all(cont.take(frame_at(t)).source == "continuous" for t in range(5))
    every = LineTriggers("interval", interval_ms=500, clock=clock)
    judged = []
    for step in range(20):
        clock.t = 100.0 + step * 0.1
        judged.append(every.take(frame_at(clock.t)) is not None)
    assert sum(judged) == 4 and judged[0]


def test_triggers_that_cannot_get_a_fresh_frame_are_answered_error():
    clock = Clock()
    triggers = LineTriggers("mqtt", TriggerSettings(frame_timeout_ms=200), clock=clock, capacity=2)
    triggers.fire("mqtt", "A")
    clock.t += 0.1
    assert triggers.expired(camera_ok=True) == []
    clock.t += 0.15
    [(late, code)] = triggers.expired(camera_ok=True)
    assert late.part_id == "A" and code == rm.ERR_NO_FRAME
    for part in "BCDE":                     # two wait, two find the queue full
        triggers.fire("mqtt", part)
    lost = triggers.expired(camera_ok=False)
    assert sorted((t.part_id, code) for t, code in lost) == [
        ("B", rm.ERR_CAMERA_LOST), ("C", rm.ERR_CAMERA_LOST), ("D", rm.ERR_QUEUE_FULL), ("E", rm.ERR_QUEUE_FULL)]
    assert not triggers.wants_frames()


def test_a_settling_delay_moves_the_answering_frame_later():
    clock = Clock()
    triggers = LineTriggers("triggered", TriggerSettings(delay_ms=40), clock=clock)
    triggers.fire()
    assert triggers.take(frame_at(100.02)) is None and triggers.take(frame_at(100.041)) is not None


# ---- presence in the ROI ---------------------------------------------------------------------------------
def conveyor_frames(parts: int, seed: int = 5):
    """ROI-sized frames: an empty belt, then per part: sliding in (5 frames), holding (6), sliding out (5),
    empty (4); with camera noise. Returns (frames, index of the first frame on which each part is still)."""
    rng = np.random.default_rng(seed)
    belt = rng.integers(60, 90, (160, 160, 3)).astype(np.uint8)
    frames, still = [], []

    def shot(part=None, x=0):
        img = belt.astype(np.int16)
        if part is not None:
            x0, x1 = max(0, x), min(160, x + 100)
            if x1 > x0:
                img[30:130, x0:x1] = part[:, x0 - x:x1 - x]
        img += rng.normal(0, 2.0, img.shape).astype(np.int16)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))

    for _ in range(4):
        shot()
    for _ in range(parts):
        part = render_part(rng, None, 100)
        for x in (-80, -50, -20, 5, 25):
            shot(part, x)
        still.append(len(frames))
        for _ in range(6):
            shot(part, 30)
        for x in (60, 90, 120, 150, 170):
            shot(part, x)
        for _ in range(4):
            shot()
    return frames, still


def test_presence_judges_each_part_once_when_it_holds_still_and_rearms_when_empty():
    frames, still = conveyor_frames(parts=4)
    detector = PresenceDetector(still_frames=3)
    fired = [i for i, f in enumerate(frames) if detector.update(f)]
    assert len(fired) == 4 and detector.parts == 4
    for at, first_still in zip(fired, still):
        assert at == first_still + 2       # the third frame that holds still (the second compares with the first)


def test_a_passing_shadow_or_slow_light_change_is_not_a_part():
    frames, _ = conveyor_frames(parts=0)
    detector = PresenceDetector(still_frames=3)
    shadow = [np.clip(frames[0].astype(np.int16) - 40, 0, 255).astype(np.uint8)] * 2
    sequence = frames + shadow + frames
    # daylight: 40 grey levels brighter over 160 frames (the empty ROI is followed while nothing is there)
    sequence += [np.clip(frames[0].astype(np.float32) + k / 4, 0, 255).astype(np.uint8) for k in range(160)]
    assert not any(detector.update(f) for f in sequence)


def test_presence_through_the_trigger_controller_uses_the_roi_crop():
    frames, _ = conveyor_frames(parts=2)
    triggers = LineTriggers("presence")
    crops = []
    answered = []
    for i, img in enumerate(frames):
        frame = Frame(img, i, i / 30, i / 30)
        trigger = triggers.take(frame, crop=lambda img=img: crops.append(1) or img)
        if trigger is not None:
            answered.append((i, trigger.source))
    assert [s for _, s in answered] == ["presence", "presence"] and len(crops) == len(frames)


def test_fire_is_safe_from_many_threads():
    triggers = LineTriggers("mqtt", capacity=10_000)
    threads = [threading.Thread(target=lambda: [triggers.fire("mqtt") for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(triggers.queue) == 2000
