"""A transcript store that loses nothing: an append-only journal in front of a record backend.

Every record (session start, turn, error, session end, audit entry) is normalised
(gateway.store.records) and appended to a local journal file before the call returns, so a crash
loses at most the turn in progress and a slow or failing backend never blocks a session. A writer
task writes journal records to the backend (SQLite or PostgreSQL) in order, in batches:
- the backend is unavailable (connection lost, database locked, disk full): the records wait (at
  most `max_buffered` in memory, the rest only in the file) and the write is retried with
  exponential backoff, for as long as it takes; the store reports `degraded` meanwhile;
- the backend refuses a record (a constraint, bad data, an unexpected driver error): it is
  retried alone `max_attempts` times with backoff, then set aside in the dead-letter file with
  the error (`gateway ops store-replay` writes those once the cause is fixed) and the writer goes
  on with the next record.
The writer is supervised: if it dies it is restarted (counted in `writer_restarts`). When
everything is written the journal is truncated; at start, whatever was not yet written is
replayed (the backends' writes are idempotent, so a record written just before a crash is not
duplicated).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gateway.errors import BackendError, ConfigError, GatewayError
from gateway.security.audit import AuditRecord
from gateway.security.redact import caller_hash
from gateway.store.journal import DeadLetters, Journal
from gateway.store.records import (  # re-exported: the record types have always lived here
    MAX_LINE_BYTES,
    MAX_MESSAGE_CHARS,
    AuditRec,
    ErrorRec,
    Record,
    SessionEndRec,
    SessionStartRec,
    TurnRec,
    TurnRecord,
    decode_record,
    encode_record,
    normalise,
)

__all__ = ["MAX_LINE_BYTES", "MAX_MESSAGE_CHARS", "AuditRec", "BufferedStore", "DurableStoreSettings",
           "ErrorRec", "Journal", "Record", "RecordBackend", "SessionEndRec", "SessionStartRec", "TurnRec",
           "decode_record", "encode_record"]

log = logging.getLogger("gateway.store")
T = TypeVar("T")


class RecordBackend(Protocol):
    async def write(self, batch: Sequence[Record]) -> None:
        """Writes the records in order, atomically and idempotently. Raises BackendError with code
        `store-unavailable` (retry later) or `store-rejected` (this data cannot be written)."""

    async def aclose(self) -> None: ...


def dead_letter_path_for(journal_path: str | Path) -> Path:
    """Where a journal's refused records go: store-journal.jsonl -> store-journal.dead.jsonl."""
    path = Path(journal_path)
    return path.with_name(f"{path.stem}.dead{path.suffix}" if path.suffix else f"{path.name}.dead")


def _failure_code(exc: BaseException) -> str:
    """store-unavailable (wait and retry) or store-rejected (retry alone, then dead-letter)."""
    if isinstance(exc, GatewayError):
        return "store-rejected" if exc.code == "store-rejected" else "store-unavailable"
    if isinstance(exc, OSError | TimeoutError):
        return "store-unavailable"
    return "store-rejected"  # a driver or encoding error: this record, not the backend


# ---------------------------------------------------------------------- the store


class BufferedStore:
    def __init__(self, backend: RecordBackend, journal_path: str | Path, *, max_buffered: int = 10_000,
                 batch_size: int = 200, write_timeout_s: float = 5.0,
                 backoff_s: tuple[float, float] = (0.1, 5.0), fsync: bool = False,
                 caller_pepper: str = "", max_journal_bytes: int = 1 << 30, max_attempts: int = 3,
                 dead_letter_path: str | Path | None = None) -> None:
        self.backend = backend
        self.journal_path = Path(journal_path)
        self.max_buffered = max_buffered
        self.batch_size = batch_size
        self.write_timeout_s = write_timeout_s
        self.backoff_s = backoff_s
        self.fsync = fsync
        self.caller_pepper = caller_pepper
        self.max_journal_bytes = max_journal_bytes
        self.max_attempts = max_attempts
        self.dead = DeadLetters(dead_letter_path or dead_letter_path_for(self.journal_path))
        self.available = True  # False while the backend refuses writes
        self.last_error: str | None = None
        self.dead_letters = 0  # records in the dead-letter file (refused by the backend)
        self.dropped = 0  # records lost: the journal was over its cap or unwritable, memory full
        self.writer_restarts = 0
        self._writer_ok = True  # False while a dead writer waits to be restarted
        self._journal_broken = False  # the last journal append failed (disk full?)
        self._journal: Journal | None = None
        self._pending: deque[tuple[Record, int]] = deque()
        self._spilled = False  # records beyond max_buffered wait only in the file
        self._committed = 0
        self._journal_end = 0  # bytes in the journal file (tracked here: no lock on the loop)
        self._append_lock = asyncio.Lock()  # keeps journal order == call order
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._closing = False
        self._drain: asyncio.Task[None] | None = None
        # The journal's own thread: appends never queue behind speech recognition in the loop's
        # shared executor (a session waits for its record's append, never for the database).
        self._files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-journal")

    async def _io(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._files, partial(work, *args, **kwargs))

    @property
    def backlog(self) -> int:
        """Records not yet confirmed by the backend (in memory; more may wait in the file)."""
        return len(self._pending)

    @property
    def state(self) -> str:
        """ok | degraded (the backend is failing, the writer is restarting, or the journal is
        unwritable) | stopped."""
        if self._drain is None:
            return "stopped"
        if not (self.available and self._writer_ok) or self._journal_broken:
            return "degraded"
        return "ok"

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "backlog": self.backlog, "dead_letters": self.dead_letters,
                "dropped": self.dropped, "writer_restarts": self.writer_restarts,
                "last_error": self.last_error if self.state == "degraded" else None}

    async def start(self) -> None:
        self._journal = await self._io(Journal, self.journal_path, fsync=self.fsync)
        self._committed = await self._io(self._journal.committed)
        replay = await self._io(self._journal.read_from, self._committed, self.max_buffered)
        self._pending.extend(replay)
        self._journal_end = await self._io(self._journal.end)
        self._spilled = bool(replay) and replay[-1][1] < self._journal_end
        self.dead_letters = await self._io(self.dead.count)
        if replay:
            log.warning("store journal: replaying %d records not yet written", len(replay))
        if self.dead_letters:
            log.warning("store: %d records in the dead-letter file %s (gateway ops store-replay)",
                        self.dead_letters, self.dead.path)
        self._drain = asyncio.create_task(self._supervise(), name="store-writer")

    # ------------------------------------------------------------------ TranscriptWriter interface

    async def session_started(self, session_id: str, tenant: str, channel: str, language: str, *,
                              caller: str | None = None) -> None:
        hashed = caller_hash(caller, self.caller_pepper) if caller else None
        await self._append(SessionStartRec(session_id, tenant, channel, language, time.time(), hashed))

    async def turn(self, record: TurnRecord) -> None:
        # seq is allocated by the backend as the row is written (one place, atomically), so a
        # resumed session continues its numbering; rid makes a replayed line idempotent.
        await self._append(TurnRec(record.session_id, uuid.uuid4().hex, record.turn_id, record.speaker,
                                   record.modality, record.text, record.language, record.at,
                                   dict(record.timings)))

    async def error(self, session_id: str, code: str, message: str) -> None:
        await self._append(ErrorRec(session_id, code, message, time.time()))

    async def session_ended(self, session_id: str, reason: str) -> None:
        await self._append(SessionEndRec(session_id, reason, time.time()))

    async def audit(self, record: AuditRecord) -> None:
        await self._append(AuditRec(record.at, record.subject, record.role, record.tenant, record.action,
                                    record.session_id))

    async def tenant_of(self, session_id: str) -> str | None:
        for record, _ in self._pending:  # not yet written
            if isinstance(record, SessionStartRec) and record.session_id == session_id:
                return record.tenant
        try:
            lookup = getattr(self.backend, "tenant_of", None)
            if lookup is not None:
                tenant: str | None = await lookup(session_id)
                return tenant
            read = getattr(self.backend, "read_transcript", None)
            if read is None:
                return None
            stored = await read(session_id)
        except BackendError as exc:
            raise GatewayError("the store cannot confirm whose session this is; try again",
                               code="store-unavailable") from exc
        return None if stored is None else str(stored["tenant"])

    async def flush(self, timeout_s: float | None = 10.0) -> None:
        """Waits until the backend has everything appended so far (BackendError on timeout: the
        records stay in the journal and will still be written)."""
        if self._drain is None:
            raise BackendError("the store is not running", code="store-unavailable")
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: it may swallow a cancel (3.11)
                await self._idle.wait()
        except TimeoutError:
            raise BackendError(f"store backlog of {self.backlog} records not written within {timeout_s} s "
                               f"({self.last_error})", code="store-unavailable") from None

    async def replay_dead_letters(self) -> int:
        """Queues every dead letter again (in order, through the journal); any the backend still
        refuses go back to the dead-letter file with the new error. Returns how many were queued."""
        records, aside = await self._io(self.dead.take)
        for record, _ in records:
            await self._append(record)
        if aside is not None:
            await self._io(aside.unlink)
        self.dead_letters = await self._io(self.dead.count)
        return len(records)

    async def aclose(self, drain_timeout_s: float = 5.0) -> None:
        """Writes what it can within the timeout; the rest stays in the journal for the next start."""
        if self._drain is not None:
            with contextlib.suppress(GatewayError):
                await self.flush(drain_timeout_s)
            self._closing = True
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None
        if self._journal is not None:
            await self._io(self._journal.close)
            self._journal = None
        self._files.shutdown(wait=False)
        await self.backend.aclose()

    # ------------------------------------------------------------------ internals

    async def _append(self, record: Record) -> None:
        if self._journal is None or self._closing:
            raise BackendError("the store is not running", code="store-unavailable")
        record = normalise(record)
        line = encode_record(record)
        async with self._append_lock:
            if self._journal_end + len(line) > self.max_journal_bytes:
                # The overflow policy of the disk buffer: after hours without a backend, drop
                # (counted, logged) rather than fill the disk the gateway runs on.
                self._drop(record, f"the journal is over {self.max_journal_bytes} bytes ({self.last_error})")
                return
            try:
                end = self._journal_end = await self._io(self._journal.append, line)
                self._journal_broken = False
            except OSError as exc:  # disk full, say: keep it in memory while there is room
                if not self._journal_broken:
                    log.error("store journal %s unwritable: %s", self.journal_path, exc)
                self._journal_broken, self.last_error = True, f"journal: {exc}"[:300]
                if self._spilled or len(self._pending) >= self.max_buffered:
                    self._drop(record, "the journal is unwritable and memory is full")
                    return
                end = self._journal_end
            if self._spilled or len(self._pending) >= self.max_buffered:
                self._spilled = True
            else:
                self._pending.append((record, end))
        self._idle.clear()
        self._wake.set()

    def _drop(self, record: Record, why: str) -> None:
        self.dropped += 1
        log.error("store dropped a %s record of session %s: %s", type(record).__name__,
                  getattr(record, "session_id", "?")[:64], why)

    async def _supervise(self) -> None:
        """Runs the writer; restarts it (with backoff) if it ever dies."""
        while True:
            try:
                await self._drain_loop()
                return
            except Exception:
                self.writer_restarts += 1
                self._writer_ok = False
                log.exception("store writer died (restart %d); restarting it", self.writer_restarts)
                pause = self.backoff_s[0] * 2 ** min(self.writer_restarts, 8)
                await asyncio.sleep(min(self.backoff_s[1], pause))

    async def _drain_loop(self) -> None:
        assert self._journal is not None
        backoff = self.backoff_s[0]
        size = self.batch_size
        single = 0  # records still to write one at a time (a batch with a refused record in it)
        attempts = 0  # of the record at the head, refused so far
        self._writer_ok = True
        while True:
            if not self._pending and self._spilled:
                await self._reload()
            if not self._pending:
                async with self._append_lock:
                    if not self._pending and not self._spilled:
                        if self._committed and await self._io(self._journal.reset_if,
                                                                       self._committed):
                            self._committed = self._journal_end = 0
                        self._idle.set()
                        self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5.0):
                        await self._wake.wait()
                self.dead_letters = await self._io(self.dead.count)  # a replay may have run
                continue
            batch = [self._pending[i] for i in range(min(1 if single else size, len(self._pending)))]
            try:
                # Not wait_for: on 3.11 it may swallow aclose's cancel as a write completes, and
                # this loop (which aclose awaits) would then never end.
                async with asyncio.timeout(self.write_timeout_s):
                    await self.backend.write([r for r, _ in batch])
            except Exception as exc:  # the writer must outlive any backend failure
                code = _failure_code(exc)
                if not isinstance(exc, GatewayError | OSError | TimeoutError):
                    log.warning("store backend raised %s: %s", type(exc).__name__, str(exc)[:200])
                self.last_error = f"{code}: {exc}"[:300]
                if code == "store-unavailable":
                    if self.available:
                        log.warning("store unavailable (%s); buffering", str(exc)[:200])
                    self.available = False
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.backoff_s[1])
                    continue
                if len(batch) > 1:
                    single = len(batch)  # find the refused record: write these one at a time
                    continue
                attempts += 1
                self.available = False  # degraded while a record is being refused
                if attempts < self.max_attempts:
                    await asyncio.sleep(self.backoff_s[0] * 2 ** (attempts - 1))
                    continue
                record = batch[0][0]
                await self._io(self.dead.append, record, self.last_error)
                self.dead_letters += 1
                self.available = True  # the backend answered: the record was the problem
                log.error("store refused a %s record of session %s %d times; set aside in %s (%s)",
                          type(record).__name__, getattr(record, "session_id", "?")[:64], attempts,
                          self.dead.path, self.last_error)
            else:
                if not self.available:
                    log.warning("store available again; writing %d buffered records", len(self._pending))
                self.available, backoff = True, self.backoff_s[0]
            attempts = 0
            single = max(0, single - len(batch))
            for _ in batch:
                self._pending.popleft()
            self._committed = batch[-1][1]
            await self._io(self._journal.commit, self._committed)

    async def _reload(self) -> None:
        assert self._journal is not None
        async with self._append_lock:  # no append runs while the file is read back
            records = await self._io(self._journal.read_from, self._committed, self.max_buffered)
            self._pending.extend(records)
            end = await self._io(self._journal.end)
            self._spilled = bool(records) and records[-1][1] < end


# ---------------------------------------------------------------------- settings and selection


@dataclass(frozen=True)
class DurableStoreSettings:
    backend: str = "sqlite"  # "sqlite" (TranscriptStore, one node) or "postgres" (scale-out)
    dsn: str = field(default="", repr=False)  # postgresql://user:password@host:5432/gateway
    journal_path: str = "var/store-journal.jsonl"  # local buffer while PostgreSQL is away
    journal_fsync: bool = False  # True: survive power loss too (a disk flush per record)
    max_buffered_records: int = 10_000  # in memory; beyond it records wait only in the journal
    max_journal_mb: int = 1024  # the journal's cap on disk; beyond it new records are dropped (counted)
    retention_days: int = 0  # transcripts older than this are deleted by `gateway ops retention`; 0 = keep
    connect_timeout_s: float = 3.0
    write_timeout_s: float = 5.0

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        check(self.backend in ("sqlite", "postgres"), "durable.backend must be 'sqlite' or 'postgres'")
        check(self.backend != "postgres" or self.dsn.startswith(("postgresql://", "postgres://")),
              "durable.dsn must be a postgresql:// URL when durable.backend = 'postgres'")
        check(bool(self.journal_path), "durable.journal_path must not be empty")
        check(100 <= self.max_buffered_records <= 1_000_000, "durable.max_buffered_records must be 100..1e6")
        check(1 <= self.max_journal_mb <= 1_000_000, "durable.max_journal_mb must be 1..1e6")
        check(0 <= self.retention_days <= 3650, "durable.retention_days must be 0..3650")
        check(0.1 <= self.connect_timeout_s <= 60 and 0.1 <= self.write_timeout_s <= 60,
              "durable.connect_timeout_s/write_timeout_s must be 0.1..60 s")
