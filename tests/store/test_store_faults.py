"""Issue 16: the store normalises what it is given, continues a resumed session's numbering, maps
SQLite's failures to retry-or-set-aside, and `gateway ops store-replay` writes the dead letters."""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import uuid
from pathlib import Path

import pytest

from gateway.cli import ops
from gateway.cli.groups import CommandGroups
from gateway.errors import BackendError
from gateway.store.buffered import BufferedStore
from gateway.store.postgres import PostgresStore
from gateway.store.records import MAX_TEXT_CHARS, SessionStartRec, TurnRec
from gateway.store.sqlite import SqliteBackend
from gateway.store.transcripts import TranscriptStore, TurnRecord, read_transcript
from tests.store.pg_server import PostgresServer


def turn(session: str, i: int, text: str | None = None) -> TurnRecord:
    return TurnRecord(session, i, "caller", "text", text or f"turn {i}", "en", {"asr": 1.0}, 100.0 + i)


async def open_store(path: Path) -> TranscriptStore:
    store = TranscriptStore(path, backoff_s=(0.01, 0.05))
    await store.start()
    return store


def seqs(path: Path, session_id: str) -> list[int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT seq FROM turns WHERE session_id = ? ORDER BY seq", (session_id,))
        return [r[0] for r in rows]


async def test_resumed_session_continues_its_numbering(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    store = await open_store(path)
    for connection in range(3):  # the same session_id, three connections (a client that reconnects)
        await store.session_started("s1", "t", "websocket", "en")
        await store.turn(turn("s1", 1, f"said on connection {connection}"))
        await store.turn(turn("s1", 2, f"answered on connection {connection}"))
        await store.session_ended("s1", f"end {connection}")
    await store.session_started("s2", "t", "websocket", "en")  # and everyone else is still stored
    await store.turn(turn("s2", 1))
    await store.flush()
    await store.aclose()
    got = read_transcript(path, "s1")
    assert got is not None and got["end_reason"] == "end 2"
    assert [t["text"] for t in got["turns"]][::2] == [f"said on connection {c}" for c in range(3)]
    assert seqs(path, "s1") == [1, 2, 3, 4, 5, 6]
    assert seqs(path, "s2") == [1]
    assert store.dead_letters == 0


async def test_whatever_a_caller_sends_is_storable(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    store = await open_store(path)
    odd = "\ud800 \udfff nul\x00 bell\x07 tab\tnewline\n"
    await store.session_started(f"s\ud800{odd}", "tenant\ud800\x00", "websocket", "en\x00")
    await store.turn(TurnRecord(f"s\ud800{odd}", 2**40, "caller", "text", odd + "x" * (MAX_TEXT_CHARS * 2),
                                "en", {"asr": math.nan, "\ud800": math.inf, "ok": 1.26}, math.nan))
    await store.error(f"s\ud800{odd}", "code\ud800", "message \ud800" * 200)
    await store.session_ended(f"s\ud800{odd}", "bye\ud800")
    await store.flush()
    await store.aclose()
    with sqlite3.connect(path) as db:
        sid = db.execute("SELECT id FROM sessions").fetchone()[0]
    got = read_transcript(path, sid)
    assert got is not None and "\ufffd" in got["tenant"] and got["end_reason"] == "bye\ufffd"
    text = got["turns"][0]["text"]
    assert text.startswith("\ufffd \ufffd nul\ufffd bell\ufffd tab\tnewline\n")
    assert len(text) == MAX_TEXT_CHARS
    assert got["turns"][0]["timings"] == {"asr": 0.0, "\ufffd": 0.0, "ok": 1.3}
    assert got["turns"][0]["turn_id"] == 2**31 - 1 and len(got["errors"][0]["message"]) == 500
    assert store.dead_letters == 0 and store.dropped == 0


async def test_sqlite_disk_full_is_unavailable_not_refused(tmp_path: Path) -> None:
    """A real SQLITE_FULL (the file may not grow): retry later, never set the records aside."""
    backend = SqliteBackend(tmp_path / "t.sqlite3")
    await backend.open()
    await backend.write([SessionStartRec("s", "t", "websocket", "en", 1.0)])
    await backend._run(lambda db: db.execute("PRAGMA max_page_count = " + str(
        db.execute("PRAGMA page_count").fetchone()[0])))
    with pytest.raises(BackendError) as err:
        for i in range(5000):
            await backend.write([TurnRec("s", uuid.uuid4().hex, i, "caller", "text", "x" * 500, "en", 1.0)])
    assert err.value.code == "store-unavailable" and "full" in str(err.value)
    await backend.aclose()


def injected_constraint(path: Path, on: bool) -> None:
    """A real constraint failure on every turn insert while on (a trigger in the store's file)."""
    with sqlite3.connect(path, isolation_level=None) as db:
        if on:
            db.execute("CREATE TRIGGER injected_fault BEFORE INSERT ON turns"
                       " BEGIN SELECT RAISE(ABORT, 'injected constraint violation'); END")
        else:
            db.execute("DROP TRIGGER injected_fault")


def run_ops(argv: list[str]) -> int:
    top = argparse.ArgumentParser()
    top.add_argument("--config")
    groups = top.add_subparsers()
    ops.register(CommandGroups(top=groups, bench=groups, eval=groups))
    args = top.parse_args(argv)
    return int(args.func(args))


async def test_refused_records_are_dead_lettered_then_replayed_by_ops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.sqlite3"
    store = await open_store(path)
    await store.session_started("s1", "t", "websocket", "en")
    await store.turn(turn("s1", 1))
    await store.flush()
    await asyncio.to_thread(injected_constraint, path, True)
    for i in range(2, 5):
        await store.turn(turn("s1", i))  # never blocks, never raises
    await store.session_ended("s1", "caller-ended")
    await store.flush(timeout_s=10)
    assert store.dead_letters == 3 and store.state == "ok"
    got = read_transcript(path, "s1")
    assert got is not None and [t["text"] for t in got["turns"]] == ["turn 1"] and got["end_reason"]
    assert await asyncio.to_thread(run_ops, ["ops", "store-replay", "--store", str(path), "--dsn", ""]) == 1
    assert "replayed 3 dead letters; 3 refused again" in capsys.readouterr().out  # cause not fixed yet
    await asyncio.to_thread(injected_constraint, path, False)
    # The cause is fixed: the operator replays while the gateway's store keeps running.
    assert await asyncio.to_thread(run_ops, ["ops", "store-replay", "--store", str(path), "--dsn", ""]) == 0
    assert "replayed 3 dead letters; 0 refused again" in capsys.readouterr().out
    got = read_transcript(path, "s1")
    assert got is not None and [t["text"] for t in got["turns"]] == [f"turn {i}" for i in range(1, 5)]
    await store.turn(turn("s1", 5))
    await store.flush()
    assert store.dead_letters == 0
    await store.aclose()
    leftovers = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir() if "replay" in p.name])
    assert leftovers == []  # the replay's own journal is tidied away


async def test_postgres_resumed_session_continues_its_numbering(postgres: PostgresServer,
                                                                tmp_path: Path) -> None:
    store = BufferedStore(PostgresStore(postgres.dsn), tmp_path / "journal.jsonl", backoff_s=(0.01, 0.05))
    await store.start()
    s = uuid.uuid4().hex
    for connection in range(2):
        await store.session_started(s, "t", "websocket", "en")
        await store.turn(turn(s, 1, f"said on connection {connection}"))
        await store.session_ended(s, f"end {connection}")
    await store.turn(TurnRecord(s, 9, "caller", "text", "bad \ud800 text\x00", "en", {}, 5.0))
    await store.flush()
    reader = PostgresStore(postgres.dsn)
    got = await reader.read_transcript(s)
    await reader.aclose()
    await store.aclose()
    assert got is not None and got["end_reason"] == "end 1"
    assert [t["text"] for t in got["turns"]] == ["said on connection 0", "said on connection 1",
                                                 "bad \ufffd text\ufffd"]
    assert store.dead_letters == 0
