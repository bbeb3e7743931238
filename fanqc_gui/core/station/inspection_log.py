"""The inspection log: one SQLite row per verdict, in the workspace (`.fanqc/inspections.sqlite`).

WAL mode lets the camera page read recent rows while the station writes. Rows are committed in batches
(every `batch_rows` rows or `batch_seconds`), so a station judging hundreds of frames a second does not
sync the disk for each one; `flush()` commits what is pending (the station flushes on stop).
A connection belongs to the thread that opened it: the station writes through its own, a view reads
through another.

Traceability (schema 2): each row also says what triggered it (continuous, software, plc, mqtt, presence,
interval), the part and lot id the PLC or the trigger message gave, the time from the trigger to the result,
and where the result was sent ("modbus#<RESULT_ID>,mqtt#<seq>"). A log written by schema 1 gets these
columns (empty) the first time it is opened.
"""
from __future__ import annotations

import csv
import os
import sqlite3
import time
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

from fanqc_gui.core.atomic_io import mkstemp_shared
from fanqc_gui.core.errors import FanQCError

LOG_DIR = ".fanqc"
LOG_FILE = "inspections.sqlite"
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    station TEXT NOT NULL,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    frame_index INTEGER,
    model_id TEXT NOT NULL,
    threshold REAL NOT NULL,
    p_ng REAL NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('GO', 'NG')),
    image_path TEXT,
    roi TEXT,
    latency_ms REAL,
    trigger_source TEXT,
    part_id TEXT,
    lot_id TEXT,
    trigger_to_result_ms REAL,
    sent_to TEXT
);
CREATE INDEX IF NOT EXISTS inspections_time ON inspections(time);
CREATE INDEX IF NOT EXISTS inspections_run ON inspections(run_id);
"""
# schema 1 -> 2: the traceability columns (ADD COLUMN changes no existing row, so it is instant on any size)
_TRACE_COLUMNS = (("trigger_source", "TEXT"), ("part_id", "TEXT"), ("lot_id", "TEXT"),
                  ("trigger_to_result_ms", "REAL"), ("sent_to", "TEXT"))
_INDEXES = "CREATE INDEX IF NOT EXISTS inspections_part ON inspections(part_id);"


class InspectionLogError(FanQCError, RuntimeError):
    pass


@dataclass(frozen=True)
class LogEntry:
    """One verdict as written; image_path is relative to the workspace (or None)."""

    time: float
    station: str
    run_id: str
    source: str
    frame_index: int | None
    model_id: str
    threshold: float
    p_ng: float
    verdict: str
    image_path: str | None = None
    roi: str | None = None
    latency_ms: float | None = None
    trigger_source: str | None = None   # continuous / software / plc / mqtt / presence / interval
    part_id: str | None = None
    lot_id: str | None = None
    trigger_to_result_ms: float | None = None
    sent_to: str | None = None          # e.g. "modbus#17,mqtt#1234" (RESULT_ID, MQTT seq)


@dataclass(frozen=True)
class LogRow(LogEntry):
    id: int = 0

    @property
    def time_text(self) -> str:
        return datetime.fromtimestamp(self.time).isoformat(sep=" ", timespec="milliseconds")


_COLUMNS = [f.name for f in fields(LogEntry)]
_INSERT = f"INSERT INTO inspections ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SELECT = f"SELECT {', '.join(_COLUMNS)}, id FROM inspections"


def log_path(workspace_root: str | Path) -> Path:
    return Path(workspace_root) / LOG_DIR / LOG_FILE


class InspectionLog:
    def __init__(self, path: str | Path, batch_rows: int = 256, batch_seconds: float = 0.5):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InspectionLogError(f"{self.path} was written by a newer FanQC (log schema {version})")
            with self._db:
                self._migrate(version)
        except sqlite3.DatabaseError as exc:
            raise InspectionLogError(f"cannot open the inspection log {self.path}: {exc}") from None
        self._pending: list[tuple] = []
        self._batch_rows = batch_rows
        self._batch_seconds = batch_seconds
        self._last_commit = time.monotonic()
        self.rows_written = 0

    def _migrate(self, version: int) -> None:
        """Create the table, or bring an older one up to SCHEMA_VERSION (inside the caller's transaction)."""
        self._db.execute("BEGIN IMMEDIATE")  # two stations opening one old log: one migrates, one waits
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'inspections'").fetchone()
        if exists and version < 2:
            have = {row[1] for row in self._db.execute("PRAGMA table_info(inspections)")}
            for name, kind in _TRACE_COLUMNS:
                if name not in have:
                    self._db.execute(f"ALTER TABLE inspections ADD COLUMN {name} {kind}")
        for statement in (_SCHEMA + _INDEXES).split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def for_workspace(cls, workspace_root: str | Path, **kwargs) -> "InspectionLog":
        return cls(log_path(workspace_root), **kwargs)

    # ---- writing -------------------------------------------------------------------------------------
    def add(self, entry: LogEntry) -> None:
        self._pending.append(astuple(entry))
        if len(self._pending) >= self._batch_rows or time.monotonic() - self._last_commit >= self._batch_seconds:
            self.flush()

    def flush_if_due(self) -> None:
        """Commit pending rows once they are batch_seconds old, even when no new verdict comes (pause,
        triggered mode): readers never wait longer than that for a row."""
        if self._pending and time.monotonic() - self._last_commit >= self._batch_seconds:
            self.flush()

    def flush(self) -> None:
        self._last_commit = time.monotonic()
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self._db:
            self._db.executemany(_INSERT, rows)
        self.rows_written += len(rows)

    def close(self) -> None:
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            self._db.close()
            self._db = None

    # ---- reading -------------------------------------------------------------------------------------
    def recent(self, limit: int = 100, verdict: str | None = None, run_id: str | None = None,
               with_image: bool = False, since_id: int = 0) -> list[LogRow]:
        """Newest rows first (only rows after since_id when given); this connection's pending rows too."""
        self.flush()
        where, params = self._filters(verdict=verdict, run_id=run_id, with_image=with_image, since_id=since_id)
        sql = f"{_SELECT}{where} ORDER BY id DESC LIMIT ?"
        return [LogRow(*r) for r in self._db.execute(sql, (*params, int(limit)))]

    def rows(self, ids: list[int]) -> list[LogRow]:
        if not ids:
            return []
        self.flush()
        marks = ",".join("?" * len(ids))
        return [LogRow(*r) for r in self._db.execute(f"{_SELECT} WHERE id IN ({marks}) ORDER BY id", ids)]

    def counts(self, run_id: str | None = None, since_id: int = 0) -> dict:
        self.flush()
        where, params = self._filters(run_id=run_id, since_id=since_id)
        sql = f"SELECT verdict, COUNT(*) FROM inspections{where} GROUP BY verdict"
        found = dict(self._db.execute(sql, params).fetchall())
        go, ng = int(found.get("GO", 0)), int(found.get("NG", 0))
        return {"total": go + ng, "go": go, "ng": ng}

    def last_id(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM inspections").fetchone()[0])

    def export_csv(self, dest: str | Path, run_id: str | None = None, since: float | None = None) -> int:
        """Write the rows (oldest first) to a CSV file atomically; returns the number of rows."""
        self.flush()
        dest = Path(dest)
        where, params = self._filters(run_id=run_id, since=since)
        fd, tmp = mkstemp_shared(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        n = 0
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["id", "time_iso", *_COLUMNS])
                for r in self._db.execute(f"{_SELECT}{where} ORDER BY id", params):
                    row = LogRow(*r)
                    writer.writerow([row.id, row.time_text, *(_csv_value(v) for v in astuple(row)[:-1])])
                    n += 1
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return n

    @staticmethod
    def _filters(verdict=None, run_id=None, with_image=False, since_id=0, since=None) -> tuple[str, list]:
        clauses, params = [], []
        if verdict:
            clauses.append("verdict = ?")
            params.append(verdict)
        if run_id:
            clauses.append("run_id = ?")
            params.append(run_id)
        if with_image:
            clauses.append("image_path IS NOT NULL")
        if since_id:
            clauses.append("id > ?")
            params.append(int(since_id))
        if since is not None:
            clauses.append("time >= ?")
            params.append(float(since))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _csv_value(v):
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else v
