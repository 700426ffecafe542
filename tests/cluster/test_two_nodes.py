"""Two gateway processes (`gateway serve`) on one real Redis and one real PostgreSQL, on loopback.

Both nodes cap each tenant at one live session between them. A caller on node A asks for a
person; an agent connected to node B sees the call in the shared queue, takes it, gets its
transcript from node A, hears the caller's next words live, speaks to the caller (voiced on node
A), and gives the call back to the bot. The transcript, the agent's words and the audit of the
take-over end up in PostgreSQL. Credentials are JWTs: an agent of another tenant on node B sees
nothing and cannot take the call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.cli.processes import GatewayProcess, cluster_node_config, free_port
from gateway.client import next_of
from gateway.security import issue_jwt
from gateway.store.postgres import PostgresStore
from tests.cluster.conftest import RedisServer
from tests.store.pg_server import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "n" * 40


def start_node(tmp: Path, name: str, redis: RedisServer, postgres: PostgresServer) -> GatewayProcess:
    config = cluster_node_config(tmp / name, name, redis.url, f"""
[durable]
backend = "postgres"
dsn = "{postgres.dsn}"
journal_path = "{tmp / name / 'journal.jsonl'}"

[security]
mode = "required"
jwt_secret = "{SECRET}"
bridge_secret = "two-nodes-bridge-secret-0123456789"  # required mode: the phone bridges need one
max_sessions_per_tenant = 1  # counted across both nodes
""")
    return GatewayProcess(name, config, free_port(), tmp / f"{name}.log")


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[GatewayProcess, GatewayProcess, PostgresServer]]:
    postgres, redis = PostgresServer(), RedisServer()
    postgres.start()
    redis.start()
    nodes: list[GatewayProcess] = []
    try:
        nodes = [start_node(tmp_path, name, redis, postgres) for name in ("node-a", "node-b")]
        for node in nodes:
            node.wait_ready()
        yield nodes[0], nodes[1], postgres
    finally:
        for node in nodes:
            node.stop()
        redis.destroy()
        postgres.destroy()


def token(tenant: str, role: str, subject: str) -> str:
    return issue_jwt(SECRET, tenant=tenant, role=role, subject=subject, audience="cc-gateway",
                     now=time.time())


async def open_as(url: str, tenant: str, role: str, subject: str) -> ClientConnection:
    return await connect(url, additional_headers={"Authorization": f"Bearer {token(tenant, role, subject)}"})


async def queue_until(agent: ClientConnection, session_id: str) -> dict:
    """The agent's view of the queue, asked again until the call shows (the ticket is published to
    Redis in the background of the handoff)."""
    for _ in range(50):
        await agent.send(json.dumps({"type": "agent.list"}))
        queue = await next_of(agent, "agent.queue")
        if any(w["session_id"] == session_id for w in queue["waiting"]):
            return queue
        await asyncio.sleep(0.1)
    raise AssertionError(f"session {session_id} never reached the shared queue")


async def test_call_on_node_a_is_taken_by_an_agent_on_node_b(two_nodes) -> None:
    node_a, node_b, postgres = two_nodes
    caller = await open_as(node_a.url, "acme", "caller", "caller-1")
    await caller.send(json.dumps({"type": "session.start", "audio": {"sample_rate": 16000},
                                  "language": "en"}))
    started = await next_of(caller, "session.started")
    sid = started["session_id"]
    await caller.send(json.dumps({"type": "text", "text": "I want to talk to a person please."}))
    handoff = await next_of(caller, "handoff")
    assert handoff["reason"] == "caller-request"
    await next_of(caller, "turn.timing")

    # acme's one session slot is taken on node A: a second acme caller on node B is refused.
    second = await open_as(node_b.url, "acme", "caller", "caller-2")
    await second.send(json.dumps({"type": "session.start", "audio": {"sample_rate": 16000}}))
    refused = json.loads(await asyncio.wait_for(second.recv(), 20))
    assert (refused["type"], refused["code"]) == ("error", "tenant-busy")
    await second.close()

    # Another tenant's agent on node B: the call is not in its queue, and it cannot take it.
    outsider = await open_as(node_b.url, "globex", "agent", "gus")
    await outsider.send(json.dumps({"type": "session.start", "role": "agent"}))
    await next_of(outsider, "agent.ready")
    await outsider.send(json.dumps({"type": "agent.take", "session_id": sid}))
    assert (await next_of(outsider, "error"))["code"] == "agent-nothing-waiting"

    agent = await open_as(node_b.url, "acme", "agent", "anna")
    await agent.send(json.dumps({"type": "session.start", "role": "agent"}))
    ready = await next_of(agent, "agent.ready")
    assert ready["node"] == "node-b"
    queue = await queue_until(agent, sid)
    assert [w["node"] for w in queue["waiting"] if w["session_id"] == sid] == ["node-a"]
    await outsider.send(json.dumps({"type": "agent.list"}))
    assert (await next_of(outsider, "agent.queue"))["waiting"] == []

    await agent.send(json.dumps({"type": "agent.take", "session_id": sid}))
    taken = await next_of(agent, "agent.session")
    assert taken["session_id"] == sid and taken["node"] == "node-a"
    assert taken["reason"] == "caller-request" and taken["package"]
    assert [t["text"] for t in taken["transcript"] if t["speaker"] == "caller"] == [
        "I want to talk to a person please."]

    # The caller's next words reach the agent on node B live; the bot stays silent.
    await caller.send(json.dumps({"type": "text", "text": "Hello, is anyone there?"}))
    heard = await next_of(agent, "agent.event", where=lambda m: m["event"]["type"] == "transcript.final")
    assert heard["event"]["text"] == "Hello, is anyone there?"
    anna = "Hi, this is Anna from customer care."
    await agent.send(json.dumps({"type": "agent.say", "text": anna}))
    on_caller: list[dict] = []
    said = await next_of(caller, "reply.text", where=lambda m: m["text"] == anna, seen=on_caller)
    await next_of(caller, "reply.audio.end", where=lambda m: m["turn_id"] == said["turn_id"], seen=on_caller)
    on_caller += await drain(caller)
    replies = [m["text"] for m in on_caller if m["type"] == "reply.text"]
    assert replies == [anna]  # the bot said nothing to "Hello..."

    # Released: the bot answers again.
    await agent.send(json.dumps({"type": "agent.release"}))
    await next_of(agent, "agent.queue")
    await caller.send(json.dumps({"type": "text", "text": "How long do I have to return an item?"}))
    answer = await next_of(caller, "reply.text")
    assert "30 days" in answer["text"]
    await next_of(caller, "turn.timing")
    await caller.send(json.dumps({"type": "session.end"}))
    await next_of(caller, "session.ended")
    for ws in (caller, agent, outsider):
        await ws.close()

    # Everything reached PostgreSQL: node A's transcript with the agent's words, node B's audit.
    store = PostgresStore(postgres.dsn)
    try:
        stored = None
        for _ in range(60):
            stored = await store.read_transcript(sid)
            if stored is not None and stored["end_reason"] is not None:
                break
            await asyncio.sleep(0.25)
        assert stored is not None
        turns = [(t["speaker"], t["text"]) for t in stored["turns"]]
        assert ("caller", "Hello, is anyone there?") in turns
        assert ("agent", anna) in turns
        assert turns[-2][0] == "caller" and turns[-1][0] == "bot"
        audit = await audit_rows(postgres.dsn, sid)
        assert audit == [("anna", "acme", "take"), ("anna", "acme", "read-transcript"),
                         ("anna", "acme", "say"), ("anna", "acme", "release")]
    finally:
        await store.aclose()


async def drain(ws: ClientConnection, quiet_s: float = 1.0) -> list[dict]:
    """Whatever text messages arrive until the connection has been quiet for quiet_s."""
    seen: list[dict] = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet_s)
        except TimeoutError:
            return seen
        if not isinstance(raw, bytes):
            seen.append(json.loads(raw))


async def audit_rows(dsn: str, session_id: str) -> list[tuple[str, str, str]]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.cursor() as cur:
        await cur.execute("SELECT subject, tenant, action FROM audit WHERE session_id = %s ORDER BY at",
                          (session_id,))
        return [tuple(row) for row in await cur.fetchall()]
