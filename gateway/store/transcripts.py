"""Transcript store on SQLite: sessions, turns and errors, written as they happen.

The TranscriptStore is the BufferedStore (gateway/store/buffered.py) in front of the SQLite
backend (gateway/store/sqlite.py): every record is normalised and appended to a journal file next
to the database before the call returns, and one writer thread writes the journal to SQLite. A
locked or full database, or a record SQLite refuses, never blocks a session or stops storage:
the journal absorbs the backlog, refused records go to the dead-letter file, `/health` says
`degraded` meanwhile. Text arriving here has already been PII-masked by the session.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gateway.store.buffered import BufferedStore
from gateway.store.records import TurnRecord
from gateway.store.sqlite import SqliteBackend

if TYPE_CHECKING:
    from gateway.security.audit import AuditRecord

__all__ = ["TranscriptStore", "TranscriptWriter", "TurnRecord", "list_sessions", "read_transcript"]


class TranscriptWriter(Protocol):
    """What sessions write through: this SQLite store, or the journaled PostgreSQL store
    (gateway.store.buffered). Both use the schema in gateway/store/migrations. None of the
    writing calls blocks on the database or raises for what a record contains."""

    async def start(self) -> None: ...

    async def session_started(self, session_id: str, tenant: str, channel: str, language: str, *,
                              caller: str | None = None) -> None:
        """`caller` (a phone number) is stored only as a peppered hash, for `gateway ops forget`."""

    async def turn(self, record: TurnRecord) -> None: ...

    async def error(self, session_id: str, code: str, message: str) -> None: ...

    async def session_ended(self, session_id: str, reason: str) -> None: ...

    async def audit(self, record: AuditRecord) -> None: ...

    async def tenant_of(self, session_id: str) -> str | None:
        """The tenant of a stored session (None: never stored), before an id is reused."""

    async def flush(self) -> None: ...

    async def aclose(self) -> None: ...


def journal_path_for(path: str | Path) -> Path:
    """The SQLite store's journal: beside the database (not `-journal`: SQLite's own name)."""
    path = Path(path)
    return path.with_name(path.name + ".records.jsonl")


class TranscriptStore(BufferedStore):
    def __init__(self, path: str | Path, *, caller_pepper: str = "", **options: Any) -> None:
        """`options`: BufferedStore's (max_buffered, backoff_s, max_attempts, ...)."""
        self.path = Path(path)
        self.sqlite = SqliteBackend(self.path)
        super().__init__(self.sqlite, options.pop("journal_path", None) or journal_path_for(self.path),
                         caller_pepper=caller_pepper, **options)

    async def start(self) -> None:
        await self.sqlite.open()
        await super().start()


def read_transcript(path: str | Path, session_id: str) -> dict[str, Any] | None:
    """The stored session, its turns and errors (blocking; for the CLI and tests)."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        turns = [dict(r) | {"timings": json.loads(r["timings"])} for r in conn.execute(
            "SELECT turn_id, speaker, modality, text, language, at, timings FROM turns"
            " WHERE session_id = ? ORDER BY seq", (session_id,))]
        errors = [dict(r) for r in conn.execute(
            "SELECT code, message, at FROM errors WHERE session_id = ? ORDER BY at", (session_id,))]
        return dict(row) | {"turns": turns, "errors": errors}
    finally:
        conn.close()


def list_sessions(path: str | Path, limit: int = 20) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turns"
            " FROM sessions s ORDER BY started_at DESC LIMIT ?", (limit,))]
    finally:
        conn.close()
