"""Camera sources and the capture thread: what is live, what is recorded, drops, order, loss and reconnects."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from station_helpers import FakeCamera, demo_video, video_frames

from fanqc_gui.core.dataset.demo_data import render_part, write_demo_video
from fanqc_gui.core.station.camera_sources import ImageFolderSource, SourceError, SourceSpec, open_source, redact_url
from fanqc_gui.core.station.frame_grabber import ENDED, Backoff, FrameGrabber, FrameMailbox


def drain(grabber, per_frame_s=0.0, limit=10_000, timeout=10.0):
    frames, deadline = [], time.monotonic() + timeout
    while len(frames) < limit and time.monotonic() < deadline:
        item = grabber.get(timeout=0.1)
        if item is ENDED:
            break
        if item is not None:
            frames.append(item)
            time.sleep(per_frame_s)
    return frames


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# ---- parsing ------------------------------------------------------------------------------------------
def test_source_text_is_understood(tmp_path):
    video = tmp_path / "clip.avi"
    video.write_bytes(b"x")
    assert SourceSpec.parse("0") == SourceSpec("camera", "0")
    assert SourceSpec.parse(" 2 ").live
    assert SourceSpec.parse("rtsp://10.0.0.5/stream1").kind == "stream"
    assert SourceSpec.parse("http://cam.local/video.mjpg").live
    assert SourceSpec.parse(str(tmp_path)).kind == "folder"
    assert SourceSpec.parse(str(video)) == SourceSpec("file", str(video))
    assert not SourceSpec.parse(str(video)).live
    assert SourceSpec.parse(f"file://{video}").kind == "file"


@pytest.mark.parametrize("text, words", [
    ("", "no source given"),
    ("/no/such/clip.avi", "source not found"),
    ("ftp://host/x", "unsupported stream address"),
])
def test_unusable_source_text_says_why(text, words):
    with pytest.raises(SourceError, match=words):
        SourceSpec.parse(text)


def test_a_single_image_is_refused_with_advice(tmp_path):
    (tmp_path / "part.png").write_bytes(b"x")
    with pytest.raises(SourceError, match="single image; give its folder"):
        SourceSpec.parse(str(tmp_path / "part.png"))


def test_stream_passwords_never_reach_messages():
    spec = SourceSpec.parse("rtsp://admin:s3cret@10.0.0.5:554/live")
    assert "s3cret" not in spec.describe() and "admin:***@10.0.0.5:554" in spec.describe()
    assert redact_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"


# ---- opening failures ---------------------------------------------------------------------------------
def test_no_camera_is_a_clear_message_not_a_crash():
    source = open_source(SourceSpec("camera", "97"))
    with pytest.raises(SourceError, match="no camera at index 97: check that it is connected"):
        source.open()


def test_unreadable_recordings_are_named(tmp_path):
    with pytest.raises(SourceError, match="video file not found"):
        open_source(SourceSpec("file", str(tmp_path / "gone.avi"))).open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(SourceError, match="cannot open video file"):
        open_source(SourceSpec("file", str(junk))).open()
    with pytest.raises(SourceError, match="no images in folder"):
        open_source(SourceSpec("folder", str(tmp_path))).open()


def test_unreachable_stream_is_reported():
    with pytest.raises(SourceError, match="cannot connect to stream rtsp://127.0.0.1:9/x"):
        open_source(SourceSpec("stream", "rtsp://127.0.0.1:9/x")).open()


# ---- recorded sources: every frame, in order ----------------------------------------------------------
def test_recorded_video_is_judged_frame_by_frame_even_by_a_slow_reader(tmp_path_factory):
    path, truth = demo_video(tmp_path_factory)
    expected = video_frames(path)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))))
    grabber.start()
    frames = drain(grabber, per_frame_s=0.003)
    grabber.stop()
    assert [f.index for f in frames] == list(range(len(expected)))
    assert all(np.array_equal(f.image, e) for f, e in zip(frames, expected))
    assert grabber.dropped == 0 and grabber.status.state == "ended"
    assert frames[1].source_time == pytest.approx(1 / 15.0)


def test_realtime_playback_keeps_the_clock_and_drops_like_a_camera(tmp_path):
    path = tmp_path / "fast.avi"
    write_demo_video(path, parts=10, frames_per_part=6, fps=100.0, frame_size=(320, 240))
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))), realtime=True)
    t0 = time.monotonic()
    grabber.start()
    frames = drain(grabber, per_frame_s=0.03)
    elapsed = time.monotonic() - t0
    grabber.stop()
    assert 0.45 < elapsed < 2.0  # 60 frames at 100 fps: about 0.6 s, not 60 x 30 ms
    assert grabber.dropped > 10 and len(frames) + grabber.dropped == 60
    assert [f.index for f in frames] == sorted(f.index for f in frames)


def test_image_folder_plays_in_name_order_and_skips_broken_files(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("b.png", "a.png", "c.jpg"):
        cv2.imwrite(str(tmp_path / name), render_part(rng, None, 64))
    (tmp_path / "bb_broken.jpg").write_bytes(b"\xff\xd8 broken")
    source = open_source(SourceSpec.parse(str(tmp_path)))
    assert isinstance(source, ImageFolderSource) and not source.live
    grabber = FrameGrabber(source)
    grabber.start()
    frames = drain(grabber)
    grabber.stop()
    assert [f.name for f in frames] == ["a.png", "b.png", "c.jpg"]
    assert source.skipped and source.skipped[0][0] == "bb_broken.jpg"
    assert grabber.status.state == "ended"


def _write_parts(folder, n):
    rng = np.random.default_rng(1)
    for i in range(n):
        cv2.imwrite(str(folder / f"part_{i:02d}.png"), render_part(rng, None, 48))


def test_a_paced_folder_shows_every_image_in_its_own_rhythm(tmp_path):
    _write_parts(tmp_path, 4)
    source = open_source(SourceSpec.parse(str(tmp_path)), folder_interval_s=0.2)
    grabber = FrameGrabber(source, paced=True)
    grabber.start()
    received = []  # taken as soon as they come: the gaps are the folder's rhythm, not the reader's
    while (item := grabber.get(timeout=5.0)) not in (ENDED, None):
        received.append((item.name, time.monotonic()))
    grabber.stop()
    names = [n for n, _ in received]
    assert names == ["part_00.png", "part_01.png", "part_02.png", "part_03.png"]
    assert grabber.dropped == 0 and grabber.status.state == "ended"
    assert received[-1][1] - received[0][1] >= 3 * 0.2 * 0.9


def test_a_paced_folder_waits_for_a_slow_reader_and_loses_nothing(tmp_path):
    _write_parts(tmp_path, 5)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(tmp_path)), folder_interval_s=0.05), paced=True)
    grabber.start()
    frames = drain(grabber, per_frame_s=0.15)  # the model is slower than the folder's pace
    grabber.stop()
    assert [f.index for f in frames] == [0, 1, 2, 3, 4] and grabber.dropped == 0


def test_a_folder_is_not_paced_unless_asked(tmp_path):
    """`fanqc inspect --source FOLDER` judges as fast as it can: no interval, no pacing."""
    _write_parts(tmp_path, 3)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(tmp_path))))
    assert not grabber.paced and not grabber.realtime
    assert FrameGrabber(open_source(SourceSpec.parse(str(tmp_path))), realtime=True).paced


def test_loop_plays_a_recording_again(tmp_path_factory):
    path, _ = demo_video(tmp_path_factory)
    n = len(video_frames(path))
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))), loop=True)
    grabber.start()
    frames = drain(grabber, limit=n + 5)
    grabber.stop()
    assert [f.index for f in frames[n - 1:n + 2]] == [n - 1, 0, 1] and grabber.passes >= 2


# ---- live sources: newest frame wins, loss is reported and retried ------------------------------------
def test_live_camera_drops_old_frames_for_a_slow_model():
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(50)]
    grabber = FrameGrabber(open_source(SourceSpec("camera", "0"), FakeCamera.factory(frames, fps=200.0)))
    grabber.start()
    taken, ages = [], []
    for _ in range(12):
        item = grabber.get(timeout=2.0)
        ages.append(time.monotonic() - item.grabbed_at)
        taken.append(item.index)
        assert len(grabber.mailbox) <= 1
        time.sleep(0.04)  # the "model": 40 ms a frame against 5 ms between frames
    grabber.stop()
    gaps = np.diff(taken)
    assert gaps.min() >= 1 and gaps.mean() > 4  # about 8 frames skipped each time
    assert grabber.dropped > 40
    assert max(ages[1:]) < 0.1  # fresh frames: a queue would be 0.4 s behind by the 12th frame


def test_lost_camera_is_reported_and_reconnected():
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(10)]
    plugged = threading.Event()
    plugged.set()
    states = []
    grabber = FrameGrabber(open_source(SourceSpec("camera", "1"), FakeCamera.factory(frames, plugged=plugged)),
                           on_status=lambda s: states.append(s), backoff=Backoff(initial=0.02, maximum=0.1))
    grabber.start()
    assert grabber.get(timeout=2.0) is not None
    plugged.clear()  # cable pulled
    assert wait_for(lambda: any(s.state == "reconnecting" for s in states))
    lost = next(s for s in states if s.state == "reconnecting")
    assert lost.message.startswith("lost the picture") and lost.attempt == 1 and lost.retry_in_s > 0
    plugged.set()
    assert wait_for(lambda: states[-1].state == "running" and grabber.frames_read > 5)
    assert grabber.get(timeout=2.0) is not None
    grabber.stop()
    assert grabber.reconnects >= 1 and states[-1].state == "stopped"


def test_camera_missing_at_start_is_waited_for_when_asked():
    plugged = threading.Event()
    states = []
    factory = FakeCamera.factory([np.zeros((8, 8, 3), np.uint8)], plugged=plugged)
    grabber = FrameGrabber(open_source(SourceSpec("camera", "3"), factory), on_status=states.append,
                           backoff=Backoff(initial=0.02, maximum=0.05))
    grabber.start(wait_for_source=True)
    assert wait_for(lambda: sum(s.state == "reconnecting" for s in states) >= 3)
    assert "no camera at index 3" in states[-1].message
    plugged.set()
    assert grabber.get(timeout=2.0) is not None
    grabber.stop()


def test_a_camera_that_fails_midway_ends_with_its_reason(tmp_path_factory):
    frames = [np.zeros((8, 8, 3), np.uint8)] * 3
    grabber = FrameGrabber(open_source(SourceSpec("camera", "0"), FakeCamera.factory(frames, fail_after=3)),
                           reconnect=False)
    grabber.start()
    got = drain(grabber)
    grabber.stop()
    # A live camera's newest frame wins, so a slow reader may miss earlier ones; the last one always arrives.
    assert got and got[-1].index == 2
    assert grabber.status.state == "failed" and "lost the picture" in grabber.status.message


def test_stop_does_not_hang_on_a_full_queue(tmp_path_factory):
    path, _ = demo_video(tmp_path_factory)
    grabber = FrameGrabber(open_source(SourceSpec.parse(str(path))), queue_size=2)
    grabber.start()
    assert wait_for(lambda: len(grabber.mailbox) == 2)
    t0 = time.monotonic()
    grabber.stop()
    assert time.monotonic() - t0 < 1.0 and not grabber.running


def test_mailbox_latest_wins_and_fifo_keeps_order():
    slot = FrameMailbox(overwrite=True)
    for i in range(5):
        slot.put(i)
    assert slot.get(0) == 4 and slot.dropped == 4 and slot.get(0) is None
    fifo = FrameMailbox(capacity=3, overwrite=False)
    for i in range(3):
        fifo.put(i)
    fifo.close()
    assert [fifo.get(0), fifo.get(0), fifo.get(0), fifo.get(0)] == [0, 1, 2, ENDED]
    assert fifo.put(9) is False


def test_backoff_doubles_up_to_a_ceiling():
    b = Backoff(initial=0.5, maximum=4.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5
