from __future__ import annotations

import argparse
import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.cli import ops
from gateway.cli.groups import CommandGroups
from gateway.core.records import CoreRecords
from gateway.security import SecuritySettings, authenticate, verify_jwt
from gateway.store import migrations
from gateway.store.buffered import BufferedStore
from gateway.store.postgres import PostgresStore
from gateway.store.transcripts import TranscriptStore, TurnRecord, read_transcript
from tests.store.pg_server import PostgresServer


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    top = parser.add_subparsers(dest="command", required=True)
    ops.register(CommandGroups(top=top, bench=top, eval=top))
    args = parser.parse_args(argv)
    return int(args.func(args))


def turn(session: str, i: int) -> TurnRecord:
    return TurnRecord(session, i, "caller", "voice", f"turn {i}", "en", {}, 1.0 + i)


async def sqlite_with(path: Path, sessions: list[str]) -> None:
    store = TranscriptStore(path)
    await store.start()
    for s in sessions:
        await store.session_started(s, "t", "phone", "en")
        await store.turn(turn(s, 1))
    await store.flush()
    await store.aclose()


def core_records_with(path: Path, sessions: list[str], at: float | None = None) -> None:
    records = CoreRecords(str(path))
    for s in sessions:
        records.record(s, 1, "turn", {"text": f"where is my order ({s})"}, tenant="t")
        records.feedback(s, 1, "where is my order", ("orders#1",), True, "en", tenant="t")
    if at is not None:
        records._db.execute("UPDATE core_events SET at = ?", (at,))
        records._db.execute("UPDATE feedback SET at = ?", (at,))
        records._db.commit()
    records.close()


def core_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(r[0] for table in ("feedback", "core_events")
                      for r in db.execute(f"SELECT session_id FROM {table}"))


async def test_forget_session_in_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, records = tmp_path / "t.sqlite3", tmp_path / "core.sqlite3"
    await sqlite_with(path, ["s-one", "s-two"])
    core_records_with(records, ["s-one", "s-two"])
    assert run(["ops", "forget", "--caller", "s-one", "--store", str(path), "--dsn", "",
                "--records", str(records)]) == 0
    assert "deleted 1 session(s) of that session and 2 core record(s)" in capsys.readouterr().out
    assert read_transcript(path, "s-one") is None
    assert read_transcript(path, "s-two") is not None
    assert core_rows(records) == ["s-two", "s-two"]  # its feedback and its event, nothing of s-one
    data = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                if path.with_name(path.name + "-wal").exists() else b"")
    assert b"s-two" in data


async def test_retention_in_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    await sqlite_with(path, ["old"])
    assert ops.sqlite_delete_sessions(path, older_than_days=1) == []  # started just now
    assert ops.sqlite_delete_sessions(path, older_than_days=1, now=10**11) == ["old"]
    assert read_transcript(path, "old") is None


async def test_forget_caller_in_postgres(postgres: PostgresServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    store = BufferedStore(PostgresStore(postgres.dsn), tmp_path / "j.jsonl")
    await store.start()
    await store.session_started("call-1", "t", "phone", "en", caller="+44 20 7946 0018")
    await store.turn(turn("call-1", 1))
    await store.session_started("call-2", "t", "phone", "en", caller="+44 20 7946 0019")
    await store.flush()
    await store.aclose()
    # The command runs its own event loop, as from a shell.
    records = tmp_path / "core.sqlite3"
    core_records_with(records, ["call-1", "call-2"])
    argv = ["ops", "forget", "--caller", "+442079460018", "--dsn", postgres.dsn, "--records", str(records)]
    assert await asyncio.to_thread(run, argv) == 0
    out = capsys.readouterr().out
    assert "deleted 1 session(s) of that caller and 2 core record(s)" in out and "7946" not in out
    assert core_rows(records) == ["call-2", "call-2"]
    reader = PostgresStore(postgres.dsn)
    assert await reader.read_transcript("call-1") is None
    assert await reader.read_transcript("call-2") is not None
    await reader.aclose()


def test_new_key_line_authenticates(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ops", "new-key", "--tenant", "acme", "--role", "agent", "--name", "desk"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[0].rsplit(" ", 1)[1]
    entry = out[1].split(": ", 1)[1].strip('"')
    settings = SecuritySettings(mode="required", api_keys=(entry,))
    settings.validate()
    p = authenticate({"X-API-Key": key}, {}, settings, now=0)
    assert (p.tenant, p.role, p.subject) == ("acme", "agent", "desk")


def test_token_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAY_SECURITY__JWT_SECRET", "z" * 32)
    assert run(["ops", "token", "--tenant", "acme", "--role", "caller", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    import time

    assert verify_jwt(token, "z" * 32, audience="cc-gateway", now=time.time()).tenant == "acme"
    monkeypatch.setenv("GATEWAY_SECURITY__JWT_SECRET", "short")
    assert run(["ops", "token", "--tenant", "acme", "--role", "caller"]) == 2


async def test_retention_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, records = tmp_path / "t.sqlite3", tmp_path / "core.sqlite3"
    await sqlite_with(path, ["recent"])
    core_records_with(records, ["long-ago"], at=1000.0)
    core_records_with(records, ["recent"])
    argv = ["ops", "retention", "--days", "1", "--store", str(path), "--dsn", "", "--records", str(records)]
    assert await asyncio.to_thread(run, argv) == 0
    assert "deleted 0 session(s) and 2 core record(s) older than 1 days" in capsys.readouterr().out
    assert core_rows(records) == ["recent", "recent"]
    assert read_transcript(path, "recent") is not None
    assert await asyncio.to_thread(run, ["ops", "retention", "--days", "0", "--store", str(path)]) == 2


async def test_migrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.sqlite3"
    with sqlite3.connect(path) as legacy:  # a file from before the migrations: schema 1, unrecorded
        for statement in migrations.load()[0].statements:
            legacy.execute(statement)
    assert await asyncio.to_thread(run, ["ops", "migrate", "--store", str(path), "--dsn", ""]) == 0
    assert "applied migrations [1, 2, 3]" in capsys.readouterr().out
    await sqlite_with(path, ["x"])  # the store's own start finds nothing left to apply
    assert await asyncio.to_thread(run, ["ops", "migrate", "--store", str(path), "--dsn", ""]) == 0
    assert "applied migrations none; schema at 3" in capsys.readouterr().out


async def test_a_bad_records_file_stops_forget_before_anything_is_deleted(tmp_path: Path) -> None:
    path, records = tmp_path / "t.sqlite3", tmp_path / "core.sqlite3"
    await sqlite_with(path, ["s-one"])
    records.write_bytes(b"not a database at all" * 10)
    with pytest.raises(SystemExit, match=r"not the core's records file.*nothing was deleted"):
        run(["ops", "forget", "--caller", "s-one", "--store", str(path), "--dsn", "",
             "--records", str(records)])
    assert read_transcript(path, "s-one") is not None
