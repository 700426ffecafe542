"""Transcript store on SQLite: sessions, turns and errors, written as they happen.

All SQLite work runs on one writer thread that owns the connection; the event loop only puts
records on a bounded queue (never blocks on disk). A record is on disk before the next turn starts
unless the queue is full, in which case `put` waits (back-pressure on that session only).
Text arriving here has already been PII-masked by the session.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gateway.security.redact import caller_hash
from gateway.store import migrations

if TYPE_CHECKING:
    from gateway.security.audit import AuditRecord



@dataclass(frozen=True)
class TurnRecord:
    session_id: str
    turn_id: int
    speaker: str  # "caller" | "bot" | "agent" | "system"
    modality: str
    text: str
    language: str
    timings: Mapping[str, float]
    at: float


class TranscriptWriter(Protocol):
    """What sessions write through: this SQLite store, or the journaled PostgreSQL store
    (gateway.store.buffered). Both use the schema in gateway/store/migrations."""

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


class TranscriptStore:
    def __init__(self, path: str | Path, *, queue_size: int = 1000, caller_pepper: str = "") -> None:
        self.path = Path(path)
        self.caller_pepper = caller_pepper
        # Items: a statement, a future to resolve once everything before it is written, or None (stop).
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]] | asyncio.Future[None] | None] = (
            asyncio.Queue(queue_size))
        self._seq: dict[str, int] = {}
        self._writer: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        migrations.apply_sqlite(conn)  # the same numbered schema as PostgreSQL
        return conn

    async def start(self) -> None:
        self._conn = await asyncio.to_thread(self._connect)
        self._writer = asyncio.create_task(self._write_loop(), name="transcript-writer")

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            await asyncio.to_thread(self._execute, *item)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            assert self._conn is not None
            self._conn.execute(sql, params)

    async def session_started(self, session_id: str, tenant: str, channel: str, language: str, *,
                              caller: str | None = None) -> None:
        self._seq[session_id] = 0
        hashed = caller_hash(caller, self.caller_pepper) if caller else None
        await self._queue.put((
            "INSERT OR IGNORE INTO sessions (id, tenant, channel, language, started_at, caller_hash)"
            " VALUES (?, ?, ?, ?, ?, ?)", (session_id, tenant, channel, language, time.time(), hashed)))

    async def turn(self, record: TurnRecord) -> None:
        seq = self._seq.get(record.session_id, 0) + 1
        self._seq[record.session_id] = seq
        await self._queue.put((
            "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.session_id, seq, record.turn_id, record.speaker, record.modality, record.text,
             record.language, record.at, json.dumps({k: round(v, 1) for k, v in record.timings.items()}))))

    async def error(self, session_id: str, code: str, message: str) -> None:
        await self._queue.put(("INSERT OR IGNORE INTO errors VALUES (?, ?, ?, ?)",
                               (session_id, code, message[:500], time.time())))

    async def session_ended(self, session_id: str, reason: str) -> None:
        self._seq.pop(session_id, None)
        await self._queue.put(("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?",
                               (time.time(), reason, session_id)))

    async def audit(self, record: AuditRecord) -> None:
        await self._queue.put(("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)",
                               (record.at, record.subject, record.role, record.tenant, record.action,
                                record.session_id)))

    async def tenant_of(self, session_id: str) -> str | None:
        def read() -> str | None:
            with self._lock:
                assert self._conn is not None
                row = self._conn.execute("SELECT tenant FROM sessions WHERE id = ?", (session_id,)).fetchone()
            return None if row is None else str(row[0])

        await self.flush()
        return await asyncio.to_thread(read)

    async def flush(self) -> None:
        """Waits until everything queued so far is on disk."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(done)
        await done

    async def aclose(self) -> None:
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
