"""The inspection log's traceability columns: a log written before them is migrated in place, old rows kept; new
rows carry trigger source, part and lot id, trigger-to-result time and where the result went; CSV shows them."""
from __future__ import annotations

import csv
import sqlite3

from fanqc_gui.core.station.inspection_log import InspectionLog, LogEntry, log_path

SCHEMA_1 = """
CREATE TABLE inspections (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, station TEXT NOT NULL, run_id TEXT NOT NULL, source TEXT NOT NULL,
    frame_index INTEGER, model_id TEXT NOT NULL, threshold REAL NOT NULL, p_ng REAL NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('GO', 'NG')), image_path TEXT, roi TEXT, latency_ms REAL);
CREATE INDEX inspections_time ON inspections(time);
CREATE INDEX inspections_run ON inspections(run_id);
PRAGMA user_version = 1;
"""


def test_a_log_from_before_line_io_is_migrated_and_keeps_its_rows(tmp_path):
    path = log_path(tmp_path)
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    db.executemany("INSERT INTO inspections (time, station, run_id, source, frame_index, model_id, threshold, p_ng, "
                   "verdict, image_path, roi, latency_ms) VALUES (?, 's', 'old', 'cam', ?, 'm0', 0.5, 0.1, 'GO', "
                   "NULL, NULL, 0.7)", [(1_700_000_000.0 + i, i) for i in range(3)])
    db.commit()
    db.close()

    log = InspectionLog(path)
    old = log.recent(10, run_id="old")
    assert [r.frame_index for r in old] == [2, 1, 0]
    assert {(r.trigger_source, r.part_id, r.lot_id, r.trigger_to_result_ms, r.sent_to) for r in old} == \
        {(None, None, None, None, None)}
    log.add(LogEntry(1_700_000_100.0, "s", "new", "cam", 9, "m1", 0.5, 0.9, "NG", trigger_source="plc",
                     part_id="A-17", lot_id="L5", trigger_to_result_ms=3.25, sent_to="modbus#4,mqtt#88"))
    [row] = log.recent(1, run_id="new")
    assert (row.trigger_source, row.part_id, row.lot_id, row.trigger_to_result_ms, row.sent_to) == \
        ("plc", "A-17", "L5", 3.25, "modbus#4,mqtt#88")
    assert log.export_csv(tmp_path / "all.csv") == 4
    log.close()
    with open(tmp_path / "all.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[-1]["part_id"] == "A-17" and rows[-1]["sent_to"] == "modbus#4,mqtt#88"
    assert rows[-1]["trigger_source"] == "plc" and float(rows[-1]["trigger_to_result_ms"]) == 3.25
    assert rows[0]["part_id"] == "" and rows[0]["trigger_source"] == ""

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'inspections_part'").fetchone()[0] == 1
    assert db.execute("SELECT part_id FROM inspections WHERE part_id = 'A-17'").fetchone() == ("A-17",)
    db.close()
    InspectionLog(path).close()   # opening a migrated log again changes nothing
