"""Issue 16, fault injection: the transcript store fails for a while during live sessions on a
real gateway (real WebSocket sessions, typed turns). SQLite: a locked database (another process's
exclusive transaction), a full disk (injected at the backend boundary), a constraint violation
(a real trigger in the file). PostgreSQL: the server killed and restarted. Meanwhile no session
blocks (every turn is answered, new sessions start), /health says `degraded` and /ready 503;
once the store recovers nothing already said is lost (dead letters via `gateway ops store-replay`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from gateway.errors import BackendError
from gateway.store.buffered import BufferedStore
from gateway.store.postgres import PostgresStore
from gateway.store.records import Record
from gateway.store.transcripts import read_transcript
from tests.conftest import GatewayThread, make_settings
from tests.store.pg_server import PostgresServer
from tests.store.test_store_faults import injected_constraint, run_ops

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTIONS = ("How long do I have to return an item?", "When will my order arrive?")


def http_get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def caller(url: str, label: str) -> tuple[str, list[str]]:
    """One session: two typed turns, each answered; returns its id and what it said."""
    said = [f"{q} ({label})" for q in QUESTIONS]
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "session.start", "language": "en"}))
        session_id = str((await next_of(ws, "session.started", wait=30))["session_id"])
        for text in said:
            await ws.send(json.dumps({"type": "text", "text": text}))
            await next_of(ws, "turn.timing", wait=60)  # answered: the session did not block
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)
    return session_id, said


async def callers(url: str, label: str, n: int = 3) -> list[tuple[str, list[str]]]:
    return list(await asyncio.gather(*(caller(url, f"{label} {i}") for i in range(n))))


async def degraded_meanwhile(http: str) -> dict[str, Any]:
    """Polls /health until it says degraded (bounded); /ready is 503 then."""
    for _ in range(300):
        status, health = await asyncio.to_thread(http_get, http + "/health")
        if health["status"] == "degraded":
            ready, _ = await asyncio.to_thread(http_get, http + "/ready")
            assert status == 200 and ready == 503
            return health
        await asyncio.sleep(0.05)
    raise AssertionError(f"/health never said degraded: {health}")


async def recovered(gw: GatewayThread) -> None:
    gateway = gw.gateway
    assert gateway is not None
    for _ in range(100):
        try:
            gw.call(gateway.store.flush())
            break
        except BackendError:
            await asyncio.sleep(0.2)
    status, health = await asyncio.to_thread(http_get, gw.http + "/ready")
    assert status == 200 and health["status"] == "ok" and health["store"]["backlog"] == 0


class DiskFull:
    """The SQLite backend while its disk is full: every write unavailable (what SQLITE_FULL maps to)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def write(self, batch: Sequence[Record]) -> None:
        raise BackendError("SQLite unavailable: database or disk is full", code="store-unavailable")

    async def aclose(self) -> None:
        await self.inner.aclose()


def hold_exclusive_lock(path: str, held: threading.Event, release: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    held.set()
    release.wait(60)
    db.execute("ROLLBACK")
    db.close()


def assert_all_stored(path: str, sessions: list[tuple[str, list[str]]]) -> None:
    for session_id, said in sessions:
        got = read_transcript(path, session_id)
        assert got is not None and got["end_reason"] == "caller-ended", (session_id, got)
        callers_said = [t["text"] for t in got["turns"] if t["speaker"] == "caller"]
        assert sorted(callers_said) == sorted(said), (session_id, callers_said)  # replayed: may reorder
        assert len([t for t in got["turns"] if t["speaker"] == "bot"]) == len(said)


async def test_sqlite_store_faults_during_live_sessions(tmp_path: Path) -> None:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()
    try:
        gateway = gw.gateway
        assert gateway is not None and isinstance(gateway.store, BufferedStore)
        store, path = gateway.store, gw.settings.store.path
        everyone = await callers(gw.url, "before")

        # 1. A locked database: another process holds an exclusive transaction.
        held, release = threading.Event(), threading.Event()
        locker = threading.Thread(target=hold_exclusive_lock, args=(path, held, release))
        locker.start()
        await asyncio.to_thread(held.wait, 10)
        talking = asyncio.ensure_future(callers(gw.url, "locked"))
        health = await degraded_meanwhile(gw.http)
        assert "locked" in health["store"]["last_error"]
        everyone += await talking
        release.set()
        await asyncio.to_thread(locker.join, 10)
        await recovered(gw)

        # 2. A full disk.
        store.backend = DiskFull(store.backend)
        talking = asyncio.ensure_future(callers(gw.url, "disk full"))
        health = await degraded_meanwhile(gw.http)
        assert "full" in health["store"]["last_error"]
        everyone += await talking
        assert store.backlog > 0  # waiting in the journal, not lost, not blocking
        store.backend = store.backend.inner
        await recovered(gw)

        # 3. A constraint violation on every turn: refused records are set aside, the rest goes on.
        await asyncio.to_thread(injected_constraint, Path(path), True)
        talking = asyncio.ensure_future(callers(gw.url, "constraint"))
        await degraded_meanwhile(gw.http)
        everyone += await talking
        await recovered(gw)
        _, health = await asyncio.to_thread(http_get, gw.http + "/health")
        assert health["store"]["dead_letters"] >= 12  # 3 sessions x 2 turns x caller and bot
        metrics = (await asyncio.to_thread(urllib.request.urlopen, gw.http + "/metrics")).read().decode()
        assert f"gateway_store_dead_letters {float(health['store']['dead_letters'])}" in metrics
        await asyncio.to_thread(injected_constraint, Path(path), False)
        assert await asyncio.to_thread(run_ops, ["ops", "store-replay", "--store", path, "--dsn", ""]) == 0

        everyone += await callers(gw.url, "after")
        await recovered(gw)
        await asyncio.to_thread(assert_all_stored, path, everyone)  # nothing already said was lost
        assert store.writer_restarts == 0 and store.dropped == 0
    finally:
        gw.stop()


async def test_dead_postgres_during_live_sessions(tmp_path: Path) -> None:
    postgres = PostgresServer()
    postgres.start()
    base = make_settings(tmp_path)
    settings = dataclasses.replace(base, durable=dataclasses.replace(
        base.durable, backend="postgres", dsn=postgres.dsn, journal_path=str(tmp_path / "journal.jsonl"),
        connect_timeout_s=1.0, write_timeout_s=1.0))
    gw = GatewayThread(settings, preload=False).start()
    try:
        everyone = await callers(gw.url, "before")
        postgres.stop("immediate")
        postgres.wait_down()
        talking = asyncio.ensure_future(callers(gw.url, "postgres down"))
        await degraded_meanwhile(gw.http)
        everyone += await talking
        postgres.start()
        await recovered(gw)
        reader = PostgresStore(postgres.dsn)
        try:
            for session_id, said in everyone:
                got = await reader.read_transcript(session_id)
                assert got is not None and got["end_reason"] == "caller-ended"
                assert [t["text"] for t in got["turns"] if t["speaker"] == "caller"] == said
        finally:
            await reader.aclose()
    finally:
        gw.stop()
        postgres.destroy()
