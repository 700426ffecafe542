"""`gateway bench soak`: a bounded soak of a `gateway serve` child process on loopback.

A few hundred short sessions (a bounded count, at most --seconds of launching), a fixed number
at a time, cycling through good and bad ones: a typed turn; a typed turn with an unpaired
surrogate (raw JSON escape) and control characters; a reconnect with the same session_id; a
caller that vanishes without session.end; garbage frames before and after session.start; a
connection that never starts a session. Then SIGTERM. Printed: sessions by kind, store deaths
(writer restarts), dead letters, dropped records, caller turns stored vs sent, the gateway's open
file descriptors and RSS after warm-up and at the end, and the time from SIGTERM to exit.
Figures are "as the user meets it": the clients run in this process, the gateway in its own.
Not a pass/fail test: the exit status says only whether the figures are clean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.cli.groups import CommandGroups
from gateway.cli.processes import GatewayProcess, free_port, node_config
from gateway.client import next_of

MAX_SESSIONS = 2000
ROUNDS = 3
KINDS = ("typed", "surrogate", "resume", "vanish", "garbage", "unstarted")
TEXTS = ("How long do I have to return an item?", "When will my order arrive?",
         "Can I pay with a gift card?")


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("soak", help="bounded soak of a gateway serve child: store deaths, fds, RSS, "
                                             "exit time on SIGTERM")
    p.add_argument("--sessions", type=int, default=300, help=f"sessions in all (1..{MAX_SESSIONS})")
    p.add_argument("--concurrency", type=int, default=8, help="sessions at a time (1..50)")
    p.add_argument("--seconds", type=float, default=90.0, help="stop launching sessions after this (<= 600)")
    p.add_argument("--grace", type=float, default=10.0, help="the gateway's server.shutdown_grace_s")
    p.set_defaults(func=run)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


async def start(ws: ClientConnection, session_id: str | None = None) -> str:
    message: dict[str, Any] = {"type": "session.start", "language": "en"}
    if session_id:
        message["session_id"] = session_id
    await ws.send(json.dumps(message))
    reply = await (_started_or_error(ws) if session_id else next_of(ws, "session.started", wait=30))
    return str(reply["session_id"])


async def _started_or_error(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                continue
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "session.started":
                return message
            if message["type"] == "error" and message.get("code") == "session-in-use":
                raise SessionInUse()


class SessionInUse(Exception):
    """The dropped connection's session has not ended yet: a reconnecting client tries again."""


async def resume(url: str, session_id: str) -> ClientConnection:
    for _ in range(50):
        ws = await connect(url, open_timeout=30)
        try:
            await start(ws, session_id)
            return ws
        except SessionInUse:
            await ws.close()
            await asyncio.sleep(0.2)
    raise TimeoutError("the dropped session never ended")


async def typed(ws: ClientConnection, raw: str, sent: Counter[str]) -> None:
    """One typed turn given as raw JSON; counted once its transcript.final arrives (it is stored)."""
    await ws.send(raw)
    await next_of(ws, "transcript.final", wait=60)
    sent["caller turns"] += 1


async def one(url: str, kind: str, i: int, sent: Counter[str]) -> None:
    text = json.dumps({"type": "text", "text": TEXTS[i % len(TEXTS)]})
    async with connect(url, open_timeout=30) as ws:
        if kind == "unstarted":
            await asyncio.sleep(0.2)
            return
        if kind == "garbage":
            for frame in (b"\x00\x01", "{not json", json.dumps({"type": "nope"}), "[" * 5000 + "]" * 5000):
                await ws.send(frame)
        session_id = await start(ws)
        if kind == "surrogate":
            with contextlib.suppress(ConnectionClosed):  # the reply may not be encodable
                await ws.send('{"type": "text", "text": "hi \\ud800 there \\u0000\\u0007"}')
                sent["surrogate turns"] += 1
                await next_of(ws, "transcript.final", wait=60)
            return
        if kind == "garbage":
            await ws.send(b"\xff" * 7)
        await typed(ws, text, sent)
        if kind == "vanish":
            return  # no session.end: the caller vanished
        if kind == "resume":
            await ws.close()
            async with await resume(url, session_id) as again:
                await typed(again, text, sent)
                await again.send(json.dumps({"type": "session.end"}))
                await next_of(again, "session.ended", wait=30)
            return
        await ws.send(json.dumps({"type": "session.end"}))
        await next_of(ws, "session.ended", wait=30)


async def soak(url: str, total: int, concurrency: int, seconds: float) -> tuple[Counter[str], Counter[str]]:
    kinds: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    gate = asyncio.Semaphore(concurrency)
    order = itertools.cycle(KINDS)

    async def guarded(kind: str, i: int) -> None:
        async with gate:
            if time.monotonic() > deadline:
                kinds["not launched (time)"] += 1
                return
            try:
                await one(url, kind, i, sent)
                kinds[kind] += 1
            except (ConnectionClosed, TimeoutError, OSError, InvalidStatus) as exc:
                kinds[f"{kind}: client saw {type(exc).__name__}"] += 1

    await asyncio.gather(*(guarded(next(order), i) for i in range(total)))
    return kinds, sent


def stored_caller_turns(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM turns WHERE speaker = 'caller'").fetchone()[0])


def run(args: argparse.Namespace) -> int:
    total = max(1, min(args.sessions, MAX_SESSIONS))
    concurrency = max(1, min(args.concurrency, 50))
    seconds = max(1.0, min(args.seconds, 600.0))
    home = Path(tempfile.mkdtemp(prefix="gw-soak-"))
    store = home / "transcripts.sqlite3"
    config = node_config(home, f"max_sessions = {concurrency * 2 + 10}\nshutdown_grace_s = {args.grace}")
    port = free_port()
    server = GatewayProcess("gateway", config, port, home / "serve.log")
    try:
        server.wait_ready()
        pid = server.proc.pid
        _, warm = asyncio.run(soak(server.url, concurrency, concurrency, 60.0))  # warm-up: caches, TTS
        samples = [(0, fd_count(pid), server.rss_bytes())]
        began = time.monotonic()
        kinds, sent = Counter[str](), Counter[str](warm)
        for _ in range(ROUNDS):  # sampled between rounds: flat, or growing with the count?
            left = seconds - (time.monotonic() - began)
            k, t = asyncio.run(soak(server.url, total // ROUNDS, concurrency, max(left, 0.0)))
            kinds.update(k)
            sent.update(t)
            time.sleep(2.0)  # sessions that vanished are closed; the store catches up
            samples.append((sum(kinds.values()), fd_count(pid), server.rss_bytes()))
        elapsed = time.monotonic() - began
        state = health(port)
        stopping = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = server.proc.wait(timeout=args.grace + 30)
        except subprocess.TimeoutExpired:
            code = None
        exit_s = time.monotonic() - stopping
    finally:
        server.stop()
    stored = stored_caller_turns(store)
    print(f"soak: {sum(kinds.values())} sessions in {elapsed:.0f} s, {concurrency} at a time, on loopback "
          f"(gateway pid {pid}; its log {home / 'serve.log'})")
    for kind, n in sorted(kinds.items()):
        print(f"  {kind:40s} {n}")
    store_state = state.get("store", {})
    print(f"store: deaths (writer restarts) {store_state.get('writer_restarts')}, "
          f"state {store_state.get('state')}, dead letters {store_state.get('dead_letters')}, "
          f"dropped {store_state.get('dropped')}")
    expected = sent["caller turns"] + sent["surrogate turns"]
    print(f"caller turns stored: {stored} of {expected} sent ({sent['caller turns']} answered with "
          f"transcript.final, {sent['surrogate turns']} with a surrogate; warm-up included)")
    print("gateway fds:       " + ", ".join(f"{fds} after {n}" for n, fds, _ in samples)
          + " sessions (0: after warm-up)")
    print("gateway RSS (MiB): " + ", ".join(f"{rss / 2**20:.0f} after {n}" for n, _, rss in samples))
    print(f"SIGTERM -> exit: {exit_s:.1f} s (grace {args.grace:.0f} s), exit status {code}")
    clean = (code == 0 and store_state.get("writer_restarts") == 0 and store_state.get("dropped") == 0
             and stored >= expected)
    return 0 if clean else 1
