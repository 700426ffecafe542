"""What the core persists: feedback answers and a per-turn event log, all PII-masked.

Blocking sqlite3 (callers use a thread). The raw text of a turn never reaches this module:
the conversation hands it masked text only, and `record` re-checks before writing. Rows are keyed
by session and carry the session's tenant (passage ids of different tenants' knowledge bases may
be the same, so feedback is summarised per tenant).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.core.policies.pii import mask

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    session_id TEXT NOT NULL, turn INTEGER NOT NULL, question TEXT NOT NULL, sources TEXT NOT NULL,
    helpful INTEGER NOT NULL, language TEXT NOT NULL, at REAL NOT NULL, tenant TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS core_events (
    session_id TEXT NOT NULL, turn INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    at REAL NOT NULL, tenant TEXT NOT NULL DEFAULT '');
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
            for table in ("feedback", "core_events"):  # files written before rows had a tenant
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if "tenant" not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN tenant TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def feedback(self, session_id: str, turn: int, question: str, sources: tuple[str, ...],
                 helpful: bool, language: str, *, tenant: str = "") -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback (session_id, turn, question, sources, helpful, language, at, tenant)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, turn, mask(question).text[:500], json.dumps(list(sources)), int(helpful),
                 language, time.time(), tenant))

    def record(self, session_id: str, turn: int, kind: str, detail: dict[str, object], *,
               tenant: str = "") -> None:
        text = mask(json.dumps(detail, ensure_ascii=False)).text  # defence in depth
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO core_events (session_id, turn, kind, detail, at, tenant)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, turn, kind, text[:4000], time.time(), tenant))

    def forget(self, session_ids: Sequence[str]) -> int:
        """Deletes every row of these sessions (a caller's erasure request); returns the count."""
        return self._delete("session_id = ?", [(sid,) for sid in session_ids])

    def expire(self, older_than_days: float, *, now: float | None = None) -> int:
        """Deletes rows written before the retention cutoff; returns the count."""
        cutoff = (time.time() if now is None else now) - older_than_days * 86400
        return self._delete("at < ?", [(cutoff,)])

    def _delete(self, where: str, params: list[tuple[object, ...]]) -> int:
        deleted = 0
        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")  # zeroed, not left in free pages
            with self._db:
                for table in ("feedback", "core_events"):
                    for row in params:
                        deleted += self._db.execute(f"DELETE FROM {table} WHERE {where}", row).rowcount
        return deleted

    def summary(self, tenant: str | None = None) -> FeedbackSummary:
        """Feedback of one tenant, or of every tenant when None."""
        query = "SELECT sources, helpful FROM feedback"
        params: tuple[str, ...] = ()
        if tenant is not None:
            query, params = query + " WHERE tenant = ?", (tenant,)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
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
