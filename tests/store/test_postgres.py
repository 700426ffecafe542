"""PostgresStore and BufferedStore against a real PostgreSQL server on loopback."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from gateway.errors import BackendError
from gateway.security import AuditRecord, caller_hash
from gateway.store import migrations
from gateway.store.buffered import BufferedStore, ErrorRec, Record, SessionEndRec, SessionStartRec, TurnRec
from gateway.store.postgres import PostgresStore
from gateway.store.transcripts import TranscriptStore, TurnRecord, read_transcript
from tests.store.pg_server import PostgresServer


def sid() -> str:
    return uuid.uuid4().hex


def turn(session: str, i: int) -> TurnRecord:
    return TurnRecord(session, i, "caller" if i % 2 else "bot", "voice", f"turn {i}", "en",
                      {"asr": 101.26}, 1000.0 + i)


async def test_round_trip_and_idempotent_writes(postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.dsn)
    s = sid()
    batch: list[Record] = [SessionStartRec(s, "tenant-a", "phone", "en", 10.0, "abc"),
             TurnRec(s, "r1", 1, "caller", "voice", "hello", "en", 11.0, {"asr": 100.0}),
             TurnRec(s, "r2", 1, "bot", "text", "hi there", "en", 12.0, {}),
             ErrorRec(s, "asr-no-speech", "nothing heard", 12.5),
             SessionEndRec(s, "hangup", 13.0)]
    await store.write(batch)
    await store.write(batch)  # a replayed journal: no duplicates, no error
    got = await store.read_transcript(s)
    assert got is not None
    assert (got["tenant"], got["channel"], got["ended_at"], got["end_reason"]) == ("tenant-a", "phone", 13.0,
                                                                                  "hangup")
    assert [(t["speaker"], t["text"]) for t in got["turns"]] == [("caller", "hello"), ("bot", "hi there")]
    assert got["turns"][0]["timings"] == {"asr": 100.0}
    assert [e["code"] for e in got["errors"]] == ["asr-no-speech"]
    assert await store.read_transcript("nope") is None
    listed = await store.list_sessions(tenant="tenant-a")
    assert any(r["id"] == s and r["turns"] == 2 for r in listed)
    assert all(r["tenant"] == "tenant-a" for r in listed)
    assert store.migrated == list(range(1, migrations.latest() + 1)) or store.migrated == []
    await store.aclose()


async def test_delete_by_session_caller_and_age(postgres: PostgresServer) -> None:
    store = PostgresStore(postgres.dsn)
    old, mine, keep = sid(), sid(), sid()
    hashed = caller_hash("+15550001111")
    await store.write([SessionStartRec(old, "t", "phone", "en", 1000.0), SessionEndRec(old, "hangup", 1010.0),
                       SessionStartRec(mine, "t", "phone", "en", 5_000_000.0, hashed),
                       TurnRec(mine, "r3", 1, "caller", "voice", "my number is", "en", 5_000_001.0, {}),
                       SessionStartRec(keep, "t", "phone", "en", 5_000_000.0)])
    assert old in await store.delete_sessions(older_than_days=30, now=5_000_000.0 + 86400)
    assert await store.read_transcript(old) is None
    assert await store.read_transcript(mine) is not None
    assert await store.delete_sessions(caller_hash=hashed) == [mine]
    assert await store.read_transcript(mine) is None
    assert await store.read_transcript(keep) is not None
    assert await store.delete_sessions(session_id=keep) == [keep]
    with pytest.raises(ValueError):
        await store.delete_sessions()
    await store.aclose()


async def test_unreachable_server_is_store_unavailable() -> None:
    from tests.store.pg_server import free_port

    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", connect_timeout_s=1)
    with pytest.raises(BackendError) as err:
        await store.write([SessionStartRec(sid(), "t", "phone", "en", 1.0)])
    assert err.value.code == "store-unavailable"


async def test_postgres_restart_mid_session_loses_nothing(postgres: PostgresServer, tmp_path: Path) -> None:
    """The fault test: the server dies mid-session, turns keep coming, it comes back, all are stored."""
    store = BufferedStore(PostgresStore(postgres.dsn, connect_timeout_s=1, statement_timeout_s=2),
                          tmp_path / "journal.jsonl", backoff_s=(0.05, 0.3), write_timeout_s=3)
    await store.start()
    s = sid()
    await store.session_started(s, "tenant-a", "phone", "en", caller="+15550002222")
    for i in range(1, 4):
        await store.turn(turn(s, i))
    await store.flush()
    await asyncio.to_thread(postgres.stop, "immediate")  # a crash, not a clean shutdown
    for i in range(4, 12):
        await store.turn(turn(s, i))
        await asyncio.sleep(0.02)
    await store.error(s, "backend-failed", "llm timed out")
    with pytest.raises(BackendError):
        await store.flush(timeout_s=1.0)
    assert not store.available and store.backlog >= 9
    await asyncio.to_thread(postgres.start)
    await store.session_ended(s, "hangup")
    await store.flush(timeout_s=30)
    assert store.available
    got = await PostgresStore(postgres.dsn).read_transcript(s)
    assert got is not None
    assert [t["text"] for t in got["turns"]] == [f"turn {i}" for i in range(1, 12)]
    assert [e["code"] for e in got["errors"]] == ["backend-failed"]
    assert got["end_reason"] == "hangup" and got["caller_hash"] == caller_hash("+15550002222")
    await store.audit(AuditRecord(7.0, "alice", "agent", "tenant-a", "read-transcript", s))
    await store.flush()
    await store.aclose()


async def test_migrations_on_postgres_and_sqlite(postgres: PostgresServer, tmp_path: Path) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        await migrations.apply_postgres(conn)
        assert await migrations.apply_postgres(conn) == []
        cur = await conn.execute("SELECT max(version) FROM schema_migrations")
        assert (await cur.fetchone()) == (migrations.latest(),)
    # An SQLite file from before the migrations (schema 1, unrecorded, a session in it) is
    # brought up to date by the TranscriptStore's own start and keeps working.
    path = tmp_path / "t.sqlite3"
    with sqlite3.connect(path) as legacy:
        for statement in migrations.load()[0].statements:
            legacy.execute(statement)
        legacy.execute("INSERT INTO sessions (id, tenant, channel, language, started_at)"
                       " VALUES ('a', 't', 'websocket', 'en', 1.0)")
    ts = TranscriptStore(path)
    await ts.start()
    conn2 = sqlite3.connect(path, isolation_level=None)
    assert [r[0] for r in conn2.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
        range(1, migrations.latest() + 1))
    assert migrations.apply_sqlite(conn2) == []
    conn2.close()
    await ts.turn(turn("a", 1))
    await ts.session_started("b", "t", "phone", "en", caller="+1 555 0100")
    await ts.flush()
    await ts.aclose()
    got = read_transcript(path, "a")
    assert got is not None and got["caller_hash"] is None and len(got["turns"]) == 1
    phone = read_transcript(path, "b")
    assert phone is not None and phone["caller_hash"] == caller_hash("+1 555 0100")
