"""A transcript store that loses nothing: an append-only journal in front of a record backend.

Every record (session start, turn, error, session end, audit entry) is appended to a local
journal file before the call returns, so a crash loses at most the turn in progress. A drain task
writes journal records to the backend (PostgreSQL) in order, in batches; while the backend is
unavailable it retries with exponential backoff and the records wait, at most
`max_buffered_records` in memory and the rest only in the file. When everything is written the
journal is truncated; at start, whatever was not yet written is replayed (the backend's writes are
idempotent, so a record written just before a crash is not duplicated).

Same interface as gateway.store.transcripts.TranscriptStore, plus `audit`, `backlog`, `available`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from gateway.errors import BackendError, ConfigError, GatewayError
from gateway.security.audit import AuditRecord
from gateway.security.redact import caller_hash
from gateway.store.transcripts import TurnRecord

log = logging.getLogger("gateway.store")
MAX_LINE_BYTES = 256 * 1024  # a journal line longer than this is corrupt, not a record
MAX_MESSAGE_CHARS = 500


# ---------------------------------------------------------------------- records


@dataclass(frozen=True)
class SessionStartRec:
    session_id: str
    tenant: str
    channel: str
    language: str
    at: float
    caller_hash: str | None = None


@dataclass(frozen=True)
class TurnRec:
    session_id: str
    seq: int  # per session, assigned here so a replay writes the same row
    turn_id: int
    speaker: str
    modality: str
    text: str
    language: str
    at: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorRec:
    session_id: str
    code: str
    message: str
    at: float


@dataclass(frozen=True)
class SessionEndRec:
    session_id: str
    reason: str
    at: float


@dataclass(frozen=True)
class AuditRec:
    at: float
    subject: str
    role: str
    tenant: str
    action: str
    session_id: str


Record = SessionStartRec | TurnRec | ErrorRec | SessionEndRec | AuditRec
_KINDS: dict[str, type[Record]] = {"start": SessionStartRec, "turn": TurnRec, "error": ErrorRec,
                                   "end": SessionEndRec, "audit": AuditRec}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def encode_record(record: Record) -> bytes:
    return json.dumps({"k": _KIND_OF[type(record)], **asdict(record)}, ensure_ascii=False,
                      separators=(",", ":")).encode() + b"\n"


def decode_record(line: bytes) -> Record:
    """One journal line; ValueError when it is not a whole, well-formed record (a torn write)."""
    if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
        raise ValueError("incomplete or oversized journal line")
    try:
        data = json.loads(line)
    except RecursionError:
        raise ValueError("journal line nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("journal line is not an object")
    cls = _KINDS.get(data.pop("k", None))
    if cls is None:
        raise ValueError("unknown record kind")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class RecordBackend(Protocol):
    async def write(self, batch: Sequence[Record]) -> None:
        """Writes the records in order, atomically and idempotently. Raises BackendError with code
        `store-unavailable` (retry later) or `store-rejected` (this data can never be written)."""

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------------- journal file


class Journal:
    """The append-only file (blocking; used from threads). `<path>.offset` holds how far the
    backend has confirmed, so a restart replays only the rest."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.offset_path = self.path.with_name(self.path.name + ".offset")
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held open for the journal's lifetime
        self._end = self._file.tell()

    def append(self, line: bytes) -> int:
        with self._lock:
            self._file.write(line)
            self._file.flush()  # in the OS: survives the process dying
            if self.fsync:
                os.fsync(self._file.fileno())  # on the disk: survives the machine dying
            self._end += len(line)
            return self._end

    def committed(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def commit(self, offset: int) -> None:
        tmp = self.offset_path.with_name(self.offset_path.name + ".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_path)

    def read_from(self, offset: int, limit: int) -> list[tuple[Record, int]]:
        """Up to `limit` whole records after `offset`, each with the offset where it ends. A torn
        last line (a crash mid-write) ends the read; a corrupt line in the middle is skipped."""
        out: list[tuple[Record, int]] = []
        with self._lock, open(self.path, "rb") as f:
            f.seek(offset)
            while len(out) < limit and f.tell() < self._end:
                line = f.readline(MAX_LINE_BYTES + 1)
                try:
                    out.append((decode_record(line), f.tell()))
                except ValueError:
                    if not line.endswith(b"\n"):
                        break
                    log.error("journal %s: skipped a corrupt line at byte %d", self.path, f.tell())
        return out

    def end(self) -> int:
        with self._lock:
            return self._end

    def reset_if(self, offset: int) -> bool:
        """Empties the journal when everything in it (up to `offset`) has been written."""
        with self._lock:
            if offset != self._end:
                return False
            self._file.truncate(0)
            self._file.seek(0)
            self._end = 0
            self.commit(0)
            return True

    def close(self) -> None:
        with self._lock:
            self._file.close()


# ---------------------------------------------------------------------- the store


class BufferedStore:
    def __init__(self, backend: RecordBackend, journal_path: str | Path, *, max_buffered: int = 10_000,
                 batch_size: int = 200, write_timeout_s: float = 5.0,
                 backoff_s: tuple[float, float] = (0.1, 5.0), fsync: bool = False,
                 caller_pepper: str = "", max_journal_bytes: int = 1 << 30) -> None:
        self.backend = backend
        self.journal_path = Path(journal_path)
        self.max_buffered = max_buffered
        self.batch_size = batch_size
        self.write_timeout_s = write_timeout_s
        self.backoff_s = backoff_s
        self.fsync = fsync
        self.caller_pepper = caller_pepper
        self.max_journal_bytes = max_journal_bytes
        self.available = True  # False while the backend refuses writes
        self.last_error: str | None = None
        self.rejected = 0  # records the backend refused as invalid (dropped, logged)
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
        self._seq: dict[str, int] = {}

    @property
    def backlog(self) -> int:
        """Records not yet confirmed by the backend (in memory; more may wait in the file)."""
        return len(self._pending)

    async def start(self) -> None:
        self._journal = await asyncio.to_thread(Journal, self.journal_path, fsync=self.fsync)
        self._committed = await asyncio.to_thread(self._journal.committed)
        replay = await asyncio.to_thread(self._journal.read_from, self._committed, self.max_buffered)
        self._pending.extend(replay)
        self._journal_end = await asyncio.to_thread(self._journal.end)
        self._spilled = bool(replay) and replay[-1][1] < self._journal_end
        if replay:
            log.warning("store journal: replaying %d records not yet written", len(replay))
        self._drain = asyncio.create_task(self._drain_loop(), name="store-drain")

    # ------------------------------------------------------------------ TranscriptStore interface

    async def session_started(self, session_id: str, tenant: str, channel: str, language: str, *,
                              caller: str | None = None) -> None:
        self._seq[session_id] = 0
        hashed = caller_hash(caller, self.caller_pepper) if caller else None
        await self._append(SessionStartRec(session_id, tenant, channel, language, time.time(), hashed))

    async def turn(self, record: TurnRecord) -> None:
        seq = self._seq.get(record.session_id, 0) + 1
        self._seq[record.session_id] = seq
        await self._append(TurnRec(record.session_id, seq, record.turn_id, record.speaker, record.modality,
                                   record.text, record.language, record.at,
                                   {k: round(v, 1) for k, v in record.timings.items()}))

    async def error(self, session_id: str, code: str, message: str) -> None:
        await self._append(ErrorRec(session_id, code, message[:MAX_MESSAGE_CHARS], time.time()))

    async def session_ended(self, session_id: str, reason: str) -> None:
        self._seq.pop(session_id, None)
        await self._append(SessionEndRec(session_id, reason, time.time()))

    async def audit(self, record: AuditRecord) -> None:
        await self._append(AuditRec(record.at, record.subject, record.role, record.tenant, record.action,
                                    record.session_id))

    async def tenant_of(self, session_id: str) -> str | None:
        for record, _ in self._pending:  # not yet written
            if isinstance(record, SessionStartRec) and record.session_id == session_id:
                return record.tenant
        read = getattr(self.backend, "read_transcript", None)
        if read is None:
            return None
        try:
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
            await asyncio.to_thread(self._journal.close)
            self._journal = None
        await self.backend.aclose()

    # ------------------------------------------------------------------ internals

    async def _append(self, record: Record) -> None:
        if self._journal is None or self._closing:
            raise BackendError("the store is not running", code="store-unavailable")
        line = encode_record(record)
        async with self._append_lock:
            # The overflow policy of the disk buffer: after hours without a backend, refuse rather
            # than fill the disk the gateway runs on.
            if self._journal_end + len(line) > self.max_journal_bytes:
                raise BackendError(f"store journal over {self.max_journal_bytes} bytes while the backend "
                                   f"is unavailable ({self.last_error})", code="store-journal-full")
            end = self._journal_end = await asyncio.to_thread(self._journal.append, line)
            if self._spilled or len(self._pending) >= self.max_buffered:
                self._spilled = True
            else:
                self._pending.append((record, end))
        self._idle.clear()
        self._wake.set()

    async def _drain_loop(self) -> None:
        assert self._journal is not None
        backoff = self.backoff_s[0]
        size = self.batch_size
        while True:
            if not self._pending and self._spilled:
                await self._reload()
            if not self._pending:
                async with self._append_lock:
                    if not self._pending and not self._spilled:
                        if self._committed and await asyncio.to_thread(self._journal.reset_if,
                                                                       self._committed):
                            self._committed = self._journal_end = 0
                        self._idle.set()
                        self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._pending[i] for i in range(min(size, len(self._pending)))]
            try:
                # Not wait_for: on 3.11 it may swallow aclose's cancel as a write completes, and
                # this loop (which aclose awaits) would then never end.
                async with asyncio.timeout(self.write_timeout_s):
                    await self.backend.write([r for r, _ in batch])
            except Exception as exc:  # the drain must outlive any backend failure
                if not isinstance(exc, GatewayError | OSError | TimeoutError):
                    log.exception("store backend failed unexpectedly; records kept, retrying")
                code = getattr(exc, "code", "store-unavailable")
                if code == "store-rejected":
                    if len(batch) > 1:
                        size = 1  # find the one bad record: write one at a time
                        continue
                    self.rejected += 1
                    log.error("store rejected a %s record of session %s; dropped",
                              type(batch[0][0]).__name__, getattr(batch[0][0], "session_id", "?"))
                else:
                    if self.available:
                        log.warning("store unavailable (%s); buffering", exc)
                    self.available, self.last_error = False, f"{code}: {exc}"[:300]
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.backoff_s[1])
                    continue
            if not self.available:
                log.warning("store available again; writing %d buffered records", len(self._pending))
            self.available, backoff, size = True, self.backoff_s[0], self.batch_size
            for _ in batch:
                self._pending.popleft()
            self._committed = batch[-1][1]
            await asyncio.to_thread(self._journal.commit, self._committed)

    async def _reload(self) -> None:
        assert self._journal is not None
        async with self._append_lock:  # no append runs while the file is read back
            records = await asyncio.to_thread(self._journal.read_from, self._committed, self.max_buffered)
            self._pending.extend(records)
            end = await asyncio.to_thread(self._journal.end)
            self._spilled = bool(records) and records[-1][1] < end


# ---------------------------------------------------------------------- settings and selection


@dataclass(frozen=True)
class DurableStoreSettings:
    backend: str = "sqlite"  # "sqlite" (TranscriptStore, one node) or "postgres" (scale-out)
    dsn: str = field(default="", repr=False)  # postgresql://user:password@host:5432/gateway
    journal_path: str = "var/store-journal.jsonl"  # local buffer while PostgreSQL is away
    journal_fsync: bool = False  # True: survive power loss too (a disk flush per record)
    max_buffered_records: int = 10_000  # in memory; beyond it records wait only in the journal
    max_journal_mb: int = 1024  # the journal's cap on disk; beyond it new records are refused
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
