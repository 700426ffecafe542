"""What the core persists: feedback answers and a per-turn event log, all PII-masked.

Blocking sqlite3 (callers use a thread). The raw text of a turn never reaches this module:
the conversation hands it masked text only, and `record` re-checks before writing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.core.policies.pii import mask

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    session_id TEXT NOT NULL, turn INTEGER NOT NULL, question TEXT NOT NULL, sources TEXT NOT NULL,
    helpful INTEGER NOT NULL, language TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS core_events (
    session_id TEXT NOT NULL, turn INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    at REAL NOT NULL);
"""


@dataclass(frozen=True)
class FeedbackSummary:
    answered: int
    helpful: int
    by_source: dict[str, tuple[int, int]]  # passage id -> (helpful, total)


class CoreRecords:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            if path != ":memory:":
                # WAL without a sync per commit: a turn must not wait on the disk.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def feedback(self, session_id: str, turn: int, question: str, sources: tuple[str, ...],
                 helpful: bool, language: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (session_id, turn, mask(question).text[:500], json.dumps(list(sources)),
                              int(helpful), language, time.time()))

    def record(self, session_id: str, turn: int, kind: str, detail: dict[str, object]) -> None:
        text = mask(json.dumps(detail, ensure_ascii=False)).text  # defence in depth
        with self._lock, self._db:
            self._db.execute("INSERT INTO core_events VALUES (?, ?, ?, ?, ?)",
                             (session_id, turn, kind, text[:4000], time.time()))

    def summary(self) -> FeedbackSummary:
        with self._lock:
            rows = self._db.execute("SELECT sources, helpful FROM feedback").fetchall()
        by_source: dict[str, tuple[int, int]] = {}
        for sources, helpful in rows:
            for s in json.loads(sources):
                h, n = by_source.get(s, (0, 0))
                by_source[s] = (h + int(helpful), n + 1)
        return FeedbackSummary(len(rows), sum(int(h) for _, h in rows), by_source)

    def dump_text(self) -> str:
        """Everything stored, as text (the dialog evaluation scans it for PII leaks)."""
        with self._lock:
            rows = [*self._db.execute("SELECT * FROM feedback"),
                    *self._db.execute("SELECT * FROM core_events")]
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
