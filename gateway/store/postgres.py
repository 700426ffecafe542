"""Transcripts on PostgreSQL (psycopg 3, asyncio): the record backend of the BufferedStore.

Same schema as the SQLite TranscriptStore (gateway/store/migrations, applied on first connect).
One connection, used by one writer at a time; it is (re)opened lazily, so a server that went away
and came back is picked up by the next write. Writes are one transaction per batch and idempotent
(ON CONFLICT DO NOTHING on the natural keys), so a journal replay never duplicates a row.
Connectivity failures raise BackendError `store-unavailable`; data PostgreSQL refuses raises
`store-rejected`. Transcript text has been PII-masked by the session before it gets here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from gateway.errors import BackendError
from gateway.store.buffered import BufferedStore, DurableStoreSettings
from gateway.store.migrations import apply_postgres
from gateway.store.records import Record, TurnRec
from gateway.store.sql import record_sql

MAX_LIST = 1000


class PostgresStore:
    def __init__(self, dsn: str, *, connect_timeout_s: float = 3.0, statement_timeout_s: float = 5.0) -> None:
        self.dsn = dsn
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_s = statement_timeout_s
        self._conn: Any = None  # psycopg.AsyncConnection (imported lazily)
        self._lock = asyncio.Lock()
        self.migrated: list[int] | None = None

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=max(1, round(self.connect_timeout_s)),
            options=f"-c statement_timeout={int(self.statement_timeout_s * 1000)}")
        if self.migrated is None:
            self.migrated = await apply_postgres(conn)
        self._conn = conn
        return conn

    async def _run(self, work: Any) -> Any:
        """Runs `work(conn)` with connection errors mapped to stable codes."""
        import psycopg

        async with self._lock:
            try:
                conn = await self._connection()
                return await work(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                await self._drop()
                raise BackendError(f"PostgreSQL unavailable: {_first_line(exc)}",
                                   code="store-unavailable") from None
            except psycopg.Error as exc:
                raise BackendError(f"PostgreSQL refused the data: {_first_line(exc)}",
                                   code="store-rejected") from None

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # The connection is already broken: nothing more to release if closing fails.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)

    # ------------------------------------------------------------------ RecordBackend

    async def write(self, batch: Sequence[Record]) -> None:
        async def work(conn: Any) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                for record in batch:
                    if isinstance(record, TurnRec):  # seq = MAX + 1: one writer per session at a time
                        await cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (record.session_id,))
                    await cur.execute(*record_sql(record, "%s"))

        await self._run(work)

    async def aclose(self) -> None:
        async with self._lock:
            await self._drop()

    # ------------------------------------------------------------------ reads and deletion

    async def tenant_of(self, session_id: str) -> str | None:
        async def work(conn: Any) -> str | None:
            cur = await conn.execute("SELECT tenant FROM sessions WHERE id = %s", (session_id,))
            row = await cur.fetchone()
            return None if row is None else str(row[0])

        result: str | None = await self._run(work)
        return result

    async def read_transcript(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, its turns and errors (the shape of transcripts.read_transcript)."""
        async def work(conn: Any) -> dict[str, Any] | None:
            from psycopg.rows import dict_row

            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute("SELECT * FROM sessions WHERE id = %s", (session_id,))
                row = await cur.fetchone()
                if row is None:
                    return None
                await cur.execute("SELECT turn_id, speaker, modality, text, language, at, timings FROM turns"
                                  " WHERE session_id = %s ORDER BY seq", (session_id,))
                turns = [r | {"timings": json.loads(r["timings"])} for r in await cur.fetchall()]
                await cur.execute("SELECT code, message, at FROM errors WHERE session_id = %s ORDER BY at",
                                  (session_id,))
                return dict(row) | {"turns": turns, "errors": list(await cur.fetchall())}

        result: dict[str, Any] | None = await self._run(work)
        return result

    async def list_sessions(self, limit: int = 20, *, tenant: str | None = None) -> list[dict[str, Any]]:
        async def work(conn: Any) -> list[dict[str, Any]]:
            from psycopg.rows import dict_row

            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    "SELECT s.*, (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turns"
                    " FROM sessions s WHERE (%s::text IS NULL OR s.tenant = %s)"
                    " ORDER BY started_at DESC LIMIT %s", (tenant, tenant, min(limit, MAX_LIST)))
                return list(await cur.fetchall())

        result: list[dict[str, Any]] = await self._run(work)
        return result

    async def delete_sessions(self, *, session_id: str | None = None, caller_hash: str | None = None,
                              older_than_days: float | None = None, now: float | None = None) -> list[str]:
        """Deletes whole sessions (turns and errors first) by id, by caller, or by age (ended, or
        started, before the cutoff); returns the ids of the sessions that went."""
        if (session_id, caller_hash, older_than_days).count(None) != 2:
            raise ValueError("give exactly one of session_id, caller_hash, older_than_days")
        params: tuple[Any, ...]
        if older_than_days is not None:
            cutoff = (time.time() if now is None else now) - older_than_days * 86400
            where, params = "COALESCE(ended_at, started_at) < %s", (cutoff,)
        elif session_id is not None:
            where, params = "id = %s", (session_id,)
        else:
            where, params = "caller_hash = %s", (caller_hash,)

        async def work(conn: Any) -> list[str]:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.execute(f"SELECT id FROM sessions WHERE {where}", params)
                ids = [r[0] for r in await cur.fetchall()]
                if ids:
                    for table in ("turns", "errors"):
                        await cur.execute(f"DELETE FROM {table} WHERE session_id = ANY(%s)", (ids,))
                    await cur.execute("DELETE FROM sessions WHERE id = ANY(%s)", (ids,))
                return ids

        deleted: list[str] = await self._run(work)
        return deleted


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def open_durable_store(settings: DurableStoreSettings, *, caller_pepper: str = "") -> BufferedStore:
    """The PostgreSQL store behind a journal (durable.backend = 'postgres'); call `start()` next."""
    backend = PostgresStore(settings.dsn, connect_timeout_s=settings.connect_timeout_s,
                            statement_timeout_s=settings.write_timeout_s)
    return BufferedStore(backend, settings.journal_path, max_buffered=settings.max_buffered_records,
                         write_timeout_s=settings.write_timeout_s, fsync=settings.journal_fsync,
                         caller_pepper=caller_pepper, max_journal_bytes=settings.max_journal_mb << 20)
