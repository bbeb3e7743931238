"""The MQTT outbox: results not yet taken by the broker, on disk in the workspace, oldest first.

One SQLite file per station name (`<workspace>/.fanqc/mqtt-outbox-<station>.sqlite`); the publisher's thread is
its only user. A row is added before its message is published and removed when the broker's PUBACK comes, so
what waits survives a broker outage and a restart of the station. The last sequence number is kept even when
the outbox is empty, so `seq` goes on counting across restarts.
"""
from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

from fanqc_gui.core.station.line_io.results import LineIOError


def outbox_path(workspace_root: str | Path, station: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", station) or "default"
    return Path(workspace_root) / ".fanqc" / f"mqtt-outbox-{safe}.sqlite"


class Outbox:
    """The messages not yet taken by the broker, oldest first. One station process owns it (the file is
    locked while open: a second station with the same name and workspace gets a clear error)."""

    def __init__(self, path: str | Path, limit: int = 100_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        try:
            self._db = sqlite3.connect(self.path, timeout=0.2, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")  # takes the lock, kept while open (exclusive locking mode)
            self._db.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, "
                             "payload BLOB NOT NULL, created REAL NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise LineIOError(f"the MQTT outbox {self.path} is in use by another FanQC station with the same "
                                  f"name and workspace; stop it or give this station another name") from None
            raise LineIOError(f"cannot open the MQTT outbox {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise LineIOError(f"cannot open the MQTT outbox {self.path}: {exc}") from None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        top = self._db.execute("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM outbox").fetchone()
        self.last_seq = max(row[0] if row else 0, top[0])
        self.count = top[1]

    def add(self, rows: list[tuple[int, str, bytes]], keep_from: int) -> int:
        """Append rows (seq, topic, payload) in one transaction; beyond the limit drop the oldest rows with
        seq >= keep_from (those not handed to the broker yet). Returns how many were dropped."""
        dropped = 0
        db = self._db
        db.execute("BEGIN")
        try:
            now = time.time()
            db.executemany("INSERT INTO outbox (seq, topic, payload, created) VALUES (?, ?, ?, ?)",
                           [(s, t, p, now) for s, t, p in rows])
            self.last_seq = max(self.last_seq, rows[-1][0])
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)", (self.last_seq,))
            self.count += len(rows)
            excess = self.count - self.limit
            if excess > 0:
                dropped = db.execute("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE seq >= ? "
                                     "ORDER BY seq LIMIT ?)", (keep_from, excess)).rowcount
                self.count -= dropped
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return dropped

    def after(self, seq: int, limit: int) -> list[tuple[int, str, bytes]]:
        return self._db.execute("SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                (seq, limit)).fetchall()

    def remove(self, seqs: list[int]) -> None:
        if not seqs:
            return
        self._db.execute("BEGIN")
        removed = self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs]).rowcount
        self._db.execute("COMMIT")
        self.count -= removed

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
