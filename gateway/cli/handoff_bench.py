"""`gateway bench handoff`: a person taking a call over, agent on the caller's node vs another node.

Two `gateway serve` processes share one Redis (a throwaway `redis-server`, or `--redis-url`). For
each round a caller on node A asks for a person, and an agent connected to node A (same node) or
node B (other node, through the cluster: shared queue, CallerRelay, pub/sub) takes the call.
Measured per round, from the agent's side of the WebSocket:

  visible  caller's `handoff` event -> the call listed in the agent's `agent.queue` (polled)
  take     `agent.take` sent -> `agent.session` (with the transcript) received
  hear     caller's text sent -> the agent's `agent.event` transcript.final
  say      `agent.say` sent -> the caller's `reply.text` with those words

Printed: p50/p95 per step and placement, and the other-node/same-node ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from gateway.cli.groups import CommandGroups
from gateway.cli.processes import GatewayProcess, MissingProgram, RedisProcess, cluster_node_config, free_port
from gateway.client import next_of
from gateway.evaluation import percentile

STEPS = ("visible", "take", "hear", "say")
PLACEMENTS = ("same node", "other node")
MAX_ROUNDS = 200


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("handoff", help="agent take-over latency: same node vs another node")
    p.add_argument("--rounds", type=int, default=20, help=f"calls taken over per placement (1..{MAX_ROUNDS})")
    p.add_argument("--redis-url", help="an existing Redis (default: start redis-server on a free port)")
    p.set_defaults(func=run)


def _next(ws: ClientConnection, kind: str, where: dict[str, Any] | None = None) -> Awaitable[dict[str, Any]]:
    """The next message of `kind` whose fields include `where`."""
    return next_of(ws, kind, wait=60, where=lambda m: all(m.get(k) == v for k, v in (where or {}).items()))


async def _send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


async def one_round(caller_url: str, agent: ClientConnection, times: dict[str, list[float]]) -> None:
    # The caller is sent reply audio it does not read here: an unbounded client buffer keeps the
    # connection (and its keepalive pings) flowing.
    async with connect(caller_url, max_queue=None) as caller:
        await _send(caller, type="session.start", audio={"sample_rate": 16000}, language="en")
        sid = (await _next(caller, "session.started"))["session_id"]
        await _send(caller, type="text", text="I want to talk to a person please.")
        await _next(caller, "handoff")
        handed = time.perf_counter()
        while True:  # the ticket reaches the shared queue in the background of the handoff
            await _send(agent, type="agent.list")
            queue = await _next(agent, "agent.queue")
            if any(w["session_id"] == sid for w in queue["waiting"]):
                break
            await asyncio.sleep(0.005)
        times["visible"].append((time.perf_counter() - handed) * 1000)
        started = time.perf_counter()
        await _send(agent, type="agent.take", session_id=sid)
        await _next(agent, "agent.session", {"session_id": sid})
        times["take"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await _send(caller, type="text", text="Hello, is anyone there?")
        while (await _next(agent, "agent.event"))["event"]["type"] != "transcript.final":
            pass
        times["hear"].append((time.perf_counter() - started) * 1000)
        words = f"Hello, this is Anna ({sid[:6]})."
        started = time.perf_counter()
        await _send(agent, type="agent.say", text=words)
        await _next(caller, "reply.text", {"text": words})
        times["say"].append((time.perf_counter() - started) * 1000)
        await _send(agent, type="agent.release")
        await _next(agent, "agent.queue")
        await _send(caller, type="session.end")
        await _next(caller, "session.ended")


async def measure(nodes: list[GatewayProcess], rounds: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    for placement, agent_node in zip(PLACEMENTS, nodes, strict=True):
        times: dict[str, list[float]] = defaultdict(list)
        async with connect(agent_node.url) as agent:
            await _send(agent, type="session.start", role="agent")
            await _next(agent, "agent.ready")
            await one_round(nodes[0].url, agent, defaultdict(list))  # warm-up: voices, caches
            for _ in range(rounds):
                await one_round(nodes[0].url, agent, times)
        results[placement] = times
    return results


def report(results: dict[str, dict[str, list[float]]], rounds: int) -> None:
    print(f"agent take-over, {rounds} calls per placement; caller on node A (ms, p50 / p95)")
    print(f"{'step':<9}" + "".join(f"{p:>22}" for p in PLACEMENTS) + f"{'ratio p50':>12}")
    for step in STEPS:
        cells, p50s = [], []
        for placement in PLACEMENTS:
            values = results[placement][step]
            p50s.append(percentile(values, 50))
            cells.append(f"{p50s[-1]:>12.1f} / {percentile(values, 95):>7.1f}")
        ratio = p50s[1] / p50s[0] if p50s[0] > 0 else float("nan")
        print(f"{step:<9}" + "".join(cells) + f"{ratio:>12.2f}")
    print("visible: handoff event -> listed (polled every ~5 ms); take: agent.take -> agent.session; "
          "hear: caller text -> agent.event; say: agent.say -> caller reply.text")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.rounds <= MAX_ROUNDS:
        print(f"--rounds must be 1..{MAX_ROUNDS}")
        return 2
    redis: RedisProcess | None = None
    if args.redis_url is None:
        try:
            redis = RedisProcess()
        except MissingProgram as exc:
            print(f"gateway bench handoff: {exc} (or pass --redis-url)")
            return 2
        redis.start()
    url = args.redis_url or (redis.url if redis is not None else "")
    nodes: list[GatewayProcess] = []
    with tempfile.TemporaryDirectory(prefix="gw-handoff-") as tmp:
        try:
            # A fresh key prefix per run: an existing Redis may hold another cluster's state.
            prefix = f"bench{int(time.time())}"
            for name in ("node-a", "node-b"):
                config = cluster_node_config(Path(tmp) / name, name, url, key_prefix=prefix)
                nodes.append(GatewayProcess(name, config, free_port(), Path(tmp) / f"{name}.log"))
            for node in nodes:
                node.wait_ready()
            report(asyncio.run(measure(nodes, args.rounds)), args.rounds)
        finally:
            for node in nodes:
                node.stop()
            if redis is not None:
                redis.destroy()
    return 0
