"""Transcripts in an SQLite file: the record backend of the one-node TranscriptStore.

The connection belongs to one worker thread of its own (not the loop's shared executor, which
speech recognition may be holding), so writes are serialised and never run on the event loop.
A locked database waits `busy_timeout_s` and then counts as unavailable; SQLite's own errors are
mapped to the stable codes of RecordBackend (`store-unavailable`: retry; `store-rejected`: this
record cannot be written).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from gateway.errors import BackendError
from gateway.store import migrations
from gateway.store.records import Record
from gateway.store.sql import record_sql

T = TypeVar("T")


class SqliteBackend:
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 1.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=self.busy_timeout_s)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                migrations.apply_sqlite(conn)  # the same numbered schema as PostgreSQL
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            try:
                return work(self._connection())
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O: the database, not the data
                raise BackendError(f"SQLite unavailable: {exc}", code="store-unavailable") from None
            except (sqlite3.Error, ValueError, OverflowError) as exc:  # a constraint, bad data
                raise BackendError(f"SQLite refused the data: {type(exc).__name__}: {exc}",
                                   code="store-rejected") from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        """Connects and migrates now (a broken file is reported at start, not at the first write)."""
        await self._run(lambda conn: None)

    async def write(self, batch: Sequence[Record]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for record in batch:
                    conn.execute(*record_sql(record, "?"))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(work)

    async def tenant_of(self, session_id: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT tenant FROM sessions WHERE id = ?", (session_id,)).fetchone()
            return None if row is None else str(row[0])

        return await self._run(work)

    async def aclose(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            with contextlib.suppress(BackendError):  # a broken connection: nothing more to release
                await self._run(close)
        self._executor.shutdown(wait=False, cancel_futures=True)
