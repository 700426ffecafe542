"""Issue 16, shutdown always completes: `gateway serve` as a child process, sessions over real
WebSockets, then SIGTERM. It exits 0 within the grace period plus the close budget, with every
turn stored; also after a store failure (the database locked through the shutdown: the records
wait in the journal and are written at the next start); a second SIGTERM exits at once."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.cli.processes import GatewayProcess, free_port, node_config
from gateway.cli.serve import CLOSE_BUDGET_S, EXIT_FORCED
from gateway.client import next_of
from gateway.store.transcripts import TranscriptStore, read_transcript

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRACE_S = 4.0


def config(home: Path) -> Path:
    return node_config(home, f"shutdown_grace_s = {GRACE_S}")


async def open_session(url: str) -> tuple[ClientConnection, str]:
    ws = await connect(url)
    await ws.send(json.dumps({"type": "session.start", "language": "en"}))
    return ws, str((await next_of(ws, "session.started", wait=30))["session_id"])


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"type": "text", "text": text}))
    await next_of(ws, "turn.timing", wait=60)


async def drive(url: str) -> tuple[dict[str, list[str]], list[ClientConnection]]:
    """Two finished sessions and two still live (mid-conversation) at the moment of SIGTERM."""
    said: dict[str, list[str]] = {}
    live: list[ClientConnection] = []
    for i in range(4):
        ws, session_id = await open_session(url)
        said[session_id] = [f"How long do I have to return an item? ({i})",
                            f"When will my order arrive? ({i})"]
        for text in said[session_id]:
            await say(ws, text)
        if i < 2:
            await ws.send(json.dumps({"type": "session.end"}))
            await next_of(ws, "session.ended", wait=30)
            await ws.close()
        else:
            live.append(ws)
    return said, live


def terminate(server: GatewayProcess) -> tuple[float, int]:
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=GRACE_S + CLOSE_BUDGET_S + 15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        raise AssertionError(f"gateway serve still running after SIGTERM: {server.log.read_text()[-3000:]}"
                             ) from None
    return time.monotonic() - started, code


def assert_stored(path: Path, said: dict[str, list[str]]) -> None:
    for session_id, texts in said.items():
        got = read_transcript(path, session_id)
        assert got is not None and got["end_reason"] in ("caller-ended", "gateway-shutdown")
        assert [t["text"] for t in got["turns"] if t["speaker"] == "caller"] == texts
        assert len([t for t in got["turns"] if t["speaker"] == "bot"]) == len(texts)


async def test_sigterm_with_live_sessions_exits_in_time_with_everything_stored(tmp_path: Path) -> None:
    server = GatewayProcess("gateway", config(tmp_path), free_port(), tmp_path / "serve.log")
    try:
        await asyncio.to_thread(server.wait_ready, 180)
        said, live = await drive(server.url)
        took, code = await asyncio.to_thread(terminate, server)
        for ws in live:
            await ws.close()
    finally:
        server.stop()
    log = (tmp_path / "serve.log").read_text()
    assert code == 0, log[-3000:]
    assert took < GRACE_S + CLOSE_BUDGET_S, (took, log[-3000:])  # no watchdog needed
    assert "shutting down: no new sessions; 2 live sessions" in log and "stopped" in log
    ended = {sid: read_transcript(tmp_path / "transcripts.sqlite3", sid) for sid in said}
    assert sorted(str(t["end_reason"]) for t in ended.values() if t) == [
        "caller-ended", "caller-ended", "gateway-shutdown", "gateway-shutdown"]
    assert_stored(tmp_path / "transcripts.sqlite3", said)


def hold_lock(path: Path, held: threading.Event, release: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    held.set()
    release.wait(120)
    db.execute("ROLLBACK")
    db.close()


async def test_sigterm_after_a_store_failure_exits_in_time_and_loses_nothing(tmp_path: Path) -> None:
    server = GatewayProcess("gateway", config(tmp_path), free_port(), tmp_path / "serve.log")
    held, release = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_lock, args=(tmp_path / "transcripts.sqlite3", held, release))
    try:
        await asyncio.to_thread(server.wait_ready, 180)
        locker.start()  # the database is locked from now until after the process is gone
        await asyncio.to_thread(held.wait, 10)
        said, live = await drive(server.url)
        took, code = await asyncio.to_thread(terminate, server)
        for ws in live:
            await ws.close()
    finally:
        release.set()
        server.stop()
        await asyncio.to_thread(locker.join, 10)
    log = (tmp_path / "serve.log").read_text()
    assert code == 0 and took < GRACE_S + CLOSE_BUDGET_S, (code, took, log[-3000:])
    assert "store unavailable" in log
    # What the locked database could not take waits in the journal; the next start writes it.
    store = TranscriptStore(tmp_path / "transcripts.sqlite3")
    await store.start()
    await store.flush()
    await store.aclose()
    assert_stored(tmp_path / "transcripts.sqlite3", said)


async def test_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    server = GatewayProcess("gateway", config(tmp_path), free_port(), tmp_path / "serve.log")
    try:
        await asyncio.to_thread(server.wait_ready, 180)
        ws, _ = await open_session(server.url)  # a live session holds the first SIGTERM's drain
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.proc.wait, 10)
        assert code == EXIT_FORCED and time.monotonic() - started < GRACE_S
        await ws.close()
    finally:
        server.stop()


def test_watchdog_ends_a_process_whose_shutdown_hangs() -> None:
    """The last resort: a shutdown stuck past its deadline (here: a main thread that never
    returns, and a non-daemon thread that would hold the interpreter's exit) ends with status 3."""
    code = ("import threading, time\n"
            "from gateway.cli.serve import Watchdog\n"
            "threading.Thread(target=time.sleep, args=(60,)).start()\n"
            "Watchdog().arm(0.5)\n"
            "time.sleep(60)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_FORCED, done.stderr
    assert "did not complete" in done.stderr
