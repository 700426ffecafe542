from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.errors import BackendError, ConfigError
from gateway.security import AuditRecord, caller_hash
from gateway.store.buffered import (
    BufferedStore,
    DurableStoreSettings,
    Journal,
    Record,
    SessionEndRec,
    SessionStartRec,
    TurnRec,
    decode_record,
    encode_record,
)
from gateway.store.transcripts import TurnRecord


class FakeBackend:
    """Keeps rows like the real backends do (idempotent on natural keys); can be switched off."""

    def __init__(self) -> None:
        self.up = True
        self.rows: list[Record] = []
        self.keys: set[tuple[object, ...]] = set()
        self.poison: set[str] = set()  # turn texts the backend refuses as invalid
        self.writes = 0

    async def write(self, batch: Sequence[Record]) -> None:
        self.writes += 1
        if not self.up:
            raise BackendError("down", code="store-unavailable")
        if any(isinstance(r, TurnRec) and r.text in self.poison for r in batch):
            raise BackendError("bad", code="store-rejected")
        for r in batch:
            key = (type(r).__name__, r.session_id, getattr(r, "rid", None), r.at)
            if key not in self.keys:
                self.keys.add(key)
                self.rows.append(r)

    async def aclose(self) -> None:
        pass

    def texts(self) -> list[str]:
        return [r.text for r in self.rows if isinstance(r, TurnRec)]


def turn(i: int, session: str = "s1") -> TurnRecord:
    return TurnRecord(session, i, "caller", "voice", f"turn {i}", "en", {"asr": 120.04}, 1000.0 + i)


async def make(tmp_path: Path, backend: FakeBackend, **kw: object) -> BufferedStore:
    store = BufferedStore(backend, tmp_path / "journal.jsonl", backoff_s=(0.01, 0.05), **kw)  # type: ignore[arg-type]
    await store.start()
    return store


async def test_writes_in_order_and_truncates_journal(tmp_path: Path) -> None:
    backend = FakeBackend()
    store = await make(tmp_path, backend)
    await store.session_started("s1", "tenant-a", "phone", "en", caller="+1 415 867 5310")
    for i in range(1, 6):
        await store.turn(turn(i))
    await store.session_ended("s1", "hangup")
    await store.flush()
    assert backend.texts() == [f"turn {i}" for i in range(1, 6)]
    assert len({r.rid for r in backend.rows if isinstance(r, TurnRec)}) == 5  # one key per record
    start = backend.rows[0]
    assert isinstance(start, SessionStartRec) and start.caller_hash == caller_hash("+14158675310")
    assert isinstance(backend.rows[-1], SessionEndRec)
    await asyncio.sleep(0.05)  # the drain truncates once idle
    assert (tmp_path / "journal.jsonl").stat().st_size == 0
    await store.aclose()


async def test_buffers_while_backend_down_then_flushes(tmp_path: Path) -> None:
    backend = FakeBackend()
    store = await make(tmp_path, backend)
    await store.session_started("s1", "t", "websocket", "en")
    backend.up = False
    for i in range(1, 21):
        await store.turn(turn(i))
    with pytest.raises(BackendError) as err:
        await store.flush(timeout_s=0.2)
    assert err.value.code == "store-unavailable"
    assert not store.available and store.backlog == 21
    backend.up = True
    await store.flush(timeout_s=5)
    assert store.available and store.backlog == 0
    assert backend.texts() == [f"turn {i}" for i in range(1, 21)]
    await store.aclose()


async def test_crash_replays_journal_without_duplicates(tmp_path: Path) -> None:
    first = FakeBackend()
    store = await make(tmp_path, first)
    await store.session_started("s1", "t", "websocket", "en")
    await store.turn(turn(1))
    await store.flush()
    first.up = False
    for i in range(2, 6):
        await store.turn(turn(i))
    # A crash: the process dies (no aclose); a torn half line is left at the end of the file.
    assert store._drain is not None and store._journal is not None
    store._drain.cancel()
    store._journal.close()  # the process is gone: so is its lock on the journal
    torn = encode_record(SessionEndRec("s1", "hangup", 2000.0))[:17]
    await asyncio.to_thread(_append_bytes, tmp_path / "journal.jsonl", torn)
    second = FakeBackend()
    second.rows, second.keys = list(first.rows), set(first.keys)  # the same database
    again = await make(tmp_path, second)
    await again.flush()
    assert second.texts() == [f"turn {i}" for i in range(1, 6)]
    await again.aclose()


async def test_spill_beyond_memory_keeps_order(tmp_path: Path) -> None:
    backend = FakeBackend()
    store = await make(tmp_path, backend, max_buffered=5, batch_size=3)
    backend.up = False
    await store.session_started("s1", "t", "websocket", "en")
    for i in range(1, 31):
        await store.turn(turn(i))
    assert store.backlog == 5  # memory is bounded; the rest waits in the file
    backend.up = True
    await store.flush(timeout_s=5)
    assert backend.texts() == [f"turn {i}" for i in range(1, 31)]
    await store.aclose()


async def test_rejected_record_is_dead_lettered_not_wedging(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.poison = {"turn 3"}
    store = await make(tmp_path, backend)
    await store.session_started("s1", "t", "websocket", "en")
    for i in range(1, 6):
        await store.turn(turn(i))
    await store.flush(timeout_s=5)
    assert backend.texts() == ["turn 1", "turn 2", "turn 4", "turn 5"]
    assert store.dead_letters == 1 and store.state == "ok"
    backend.poison = set()  # the cause is fixed: the dead letter is written by a replay
    assert await store.replay_dead_letters() == 1
    await store.flush(timeout_s=5)
    assert sorted(backend.texts()) == sorted(f"turn {i}" for i in range(1, 6))
    assert store.dead_letters == 0
    await store.aclose()


async def test_audit_records_are_journaled(tmp_path: Path) -> None:
    backend = FakeBackend()
    store = await make(tmp_path, backend)
    await store.audit(AuditRecord(5.0, "alice", "agent", "t", "take", "s1"))
    await store.flush()
    assert [type(r).__name__ for r in backend.rows] == ["AuditRec"]
    await store.aclose()


async def test_dead_writer_is_restarted(tmp_path: Path) -> None:
    backend = FakeBackend()
    store = await make(tmp_path, backend)
    assert store._journal is not None
    commit, calls = store._journal.commit, []

    def dies_once(offset: int) -> None:
        calls.append(offset)
        if len(calls) == 1:
            raise RuntimeError("writer bug")
        commit(offset)

    store._journal.commit = dies_once  # type: ignore[method-assign]
    await store.session_started("s1", "t", "websocket", "en")
    await store.turn(turn(1))
    await store.flush(timeout_s=5)
    await store.turn(turn(2))
    await store.flush(timeout_s=5)
    assert store.writer_restarts == 1 and store.state == "ok"
    assert backend.texts() == ["turn 1", "turn 2"]
    await store.aclose()


async def test_one_journal_one_process(tmp_path: Path) -> None:
    store = await make(tmp_path, FakeBackend())
    with pytest.raises(BackendError) as err:  # a second gateway on the same store file
        await make(tmp_path, FakeBackend())
    assert err.value.code == "store-journal-in-use"
    await store.aclose()
    again = await make(tmp_path, FakeBackend())  # released with the first
    await again.aclose()


async def test_closed_store_refuses(tmp_path: Path) -> None:
    store = await make(tmp_path, FakeBackend())
    await store.aclose()
    with pytest.raises(BackendError):
        await store.turn(turn(1))


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_record_codec_round_trip_and_torn_lines(tmp_path: Path) -> None:
    rec = TurnRec("s", "r1", 1, "caller", "voice", "héllo\nworld", "en", 1.5, {"asr": 1.0})
    assert decode_record(encode_record(rec)) == rec
    for bad in (encode_record(rec)[:-1], b'{"k":"nope"}\n', b"[1]\n", b'{"k":"turn","x":1}\n'):
        with pytest.raises(ValueError):
            decode_record(bad)
    journal = Journal(tmp_path / "j.jsonl")
    journal.append(encode_record(rec))
    journal.append(b"garbage\n")
    end = journal.append(encode_record(rec))
    got = journal.read_from(0, 10)
    assert [r for r, _ in got] == [rec, rec] and got[-1][1] == end
    journal.close()


def test_durable_settings_validation() -> None:
    DurableStoreSettings().validate()
    DurableStoreSettings(backend="postgres", dsn="postgresql://u@h/db").validate()
    for bad in (DurableStoreSettings(backend="mysql"), DurableStoreSettings(backend="postgres"),
                DurableStoreSettings(retention_days=-1), DurableStoreSettings(max_buffered_records=1)):
        with pytest.raises(ConfigError):
            bad.validate()
    assert "secret" not in repr(DurableStoreSettings(dsn="postgresql://u:secret@h/db"))


async def test_journal_cap_drops_and_counts_when_full(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.up = False
    store = await make(tmp_path, backend, max_journal_bytes=2000)
    await store.session_started("s1", "t", "websocket", "en")
    for i in range(1, 100):  # never raises into the session
        await store.turn(turn(i))
    assert store.dropped > 0
    assert (tmp_path / "journal.jsonl").stat().st_size <= 2000
    backend.up = True
    await store.flush(timeout_s=5)  # what was journaled is still written
    assert backend.texts() == [f"turn {i}" for i in range(1, len(backend.texts()) + 1)]
    await store.turn(turn(100))  # and the journal takes records again once drained
    await store.flush(timeout_s=5)
    await store.aclose()


async def test_unexpected_backend_exception_keeps_records(tmp_path: Path) -> None:
    class Flaky(FakeBackend):
        calls = 0

        async def write(self, batch: Sequence[Record]) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("driver bug")
            await super().write(batch)

    backend = Flaky()
    store = await make(tmp_path, backend)
    await store.session_started("s1", "t", "websocket", "en")
    await store.turn(turn(1))
    await store.flush(timeout_s=5)
    assert backend.texts() == ["turn 1"]
    await store.aclose()
