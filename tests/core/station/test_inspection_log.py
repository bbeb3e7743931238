"""The SQLite inspection log: rows as written, batched commits, a reader beside the writer, CSV export."""
from __future__ import annotations

import csv
import sqlite3
import time

import pytest

from fanqc_gui.core.station.inspection_log import InspectionLog, InspectionLogError, LogEntry, log_path


def entry(i: int, verdict: str = "GO", image: str | None = None, run: str = "run-1") -> LogEntry:
    return LogEntry(time=1_700_000_000.0 + i * 0.125, station="line-1", run_id=run, source="camera 0",
                    frame_index=i, model_id="m1", threshold=0.42, p_ng=0.9 if verdict == "NG" else 0.1,
                    verdict=verdict, image_path=image, roi="1,2,3,4", latency_ms=0.8)


def test_rows_come_back_as_written_newest_first(tmp_path):
    log = InspectionLog.for_workspace(tmp_path)
    assert log.path == tmp_path / ".fanqc" / "inspections.sqlite" == log_path(tmp_path)
    for i in range(5):
        log.add(entry(i, "NG" if i % 2 else "GO", f"captures/x{i}.jpg" if i % 2 else None))
    rows = log.recent(10)
    assert [r.frame_index for r in rows] == [4, 3, 2, 1, 0]
    assert rows[1].verdict == "NG" and rows[1].image_path == "captures/x3.jpg" and rows[0].image_path is None
    assert rows[0].time == 1_700_000_000.5 and rows[0].threshold == 0.42 and rows[0].latency_ms == 0.8
    assert [r.frame_index for r in log.recent(10, verdict="NG")] == [3, 1]
    assert [r.frame_index for r in log.recent(10, with_image=True)] == [3, 1]
    assert [r.frame_index for r in log.recent(10, since_id=rows[2].id)] == [4, 3]
    assert log.counts() == {"total": 5, "go": 3, "ng": 2}
    assert [r.frame_index for r in log.rows([rows[0].id, rows[4].id])] == [0, 4]
    log.close()


def test_commits_are_batched_and_flushed_on_close(tmp_path):
    log = InspectionLog.for_workspace(tmp_path, batch_rows=100, batch_seconds=3600)
    reader = InspectionLog.for_workspace(tmp_path)  # the camera page's own connection
    for i in range(99):
        log.add(entry(i))
    assert reader.counts()["total"] == 0  # nothing committed yet: no disk sync per verdict
    log.add(entry(99))
    assert reader.counts()["total"] == 100  # the 100th row committed the batch
    log.add(entry(100))
    log.close()
    assert reader.counts()["total"] == 101
    reader.close()


def test_time_based_batches_reach_readers_within_the_interval(tmp_path):
    log = InspectionLog.for_workspace(tmp_path, batch_rows=10_000, batch_seconds=0.05)
    reader = InspectionLog.for_workspace(tmp_path)
    log.add(entry(0))
    time.sleep(0.06)
    log.add(entry(1))
    assert reader.counts()["total"] == 2
    log.close()
    reader.close()


def test_pending_rows_reach_readers_when_no_new_verdict_comes(tmp_path):
    log = InspectionLog.for_workspace(tmp_path, batch_rows=10_000, batch_seconds=0.05)
    reader = InspectionLog.for_workspace(tmp_path)
    log.add(entry(0))  # the last verdict before a pause, or of one trigger
    log.flush_if_due()
    assert reader.counts()["total"] == 0
    time.sleep(0.06)
    log.flush_if_due()  # the station loop calls this while it waits for frames
    assert reader.counts()["total"] == 1
    log.close()
    reader.close()


def test_wal_mode_and_schema_version(tmp_path):
    InspectionLog.for_workspace(tmp_path).close()
    db = sqlite3.connect(log_path(tmp_path))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2  # 2: the line I/O traceability columns
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    with pytest.raises(InspectionLogError, match="newer FanQC"):
        InspectionLog.for_workspace(tmp_path)


def test_a_damaged_log_is_a_clear_error(tmp_path):
    path = log_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InspectionLogError, match="cannot open the inspection log"):
        InspectionLog(path)


def test_csv_export_has_every_row_and_column(tmp_path):
    log = InspectionLog.for_workspace(tmp_path)
    for i in range(3):
        log.add(entry(i, "NG" if i == 1 else "GO", "captures/a.jpg" if i == 1 else None, run="r1"))
    log.add(entry(3, run="r2"))
    dest = tmp_path / "out.csv"
    assert log.export_csv(dest) == 4
    with open(dest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["frame_index"] for r in rows] == ["0", "1", "2", "3"]
    assert rows[1]["verdict"] == "NG" and rows[1]["image_path"] == "captures/a.jpg" and rows[0]["image_path"] == ""
    assert float(rows[2]["time"]) == 1_700_000_000.25 and rows[2]["time_iso"].endswith(".250")
    assert float(rows[1]["p_ng"]) == 0.9 and rows[0]["model_id"] == "m1" and rows[0]["roi"] == "1,2,3,4"
    assert log.export_csv(dest, run_id="r2") == 1  # replaced atomically
    assert len(dest.read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fanqc", "out.csv"]
    log.close()
