"""A call on node A handed to an agent on node B: the agent sees the transcript so far, the live
events, speaks to the caller, and gives the call back. On LocalHub and on a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.cluster import Cluster, LocalCluster, LocalHub, QueuedTicket
from gateway.cluster.handoff import CallerRelay, RemoteAgent
from gateway.cluster.redis_cluster import RedisCluster
from gateway.errors import GatewayError
from gateway.events import SessionEnded, SessionEvent, TranscriptFinal
from gateway.store.transcripts import TurnRecord
from tests.cluster.conftest import RedisServer


@dataclass
class Request:
    tenant: str
    channel: str = "phone"


@dataclass
class FakeSession:
    """The parts of gateway.session.Session the relay uses."""

    request: Request
    language: str = "en"
    transcript: list[TurnRecord] = field(default_factory=list)
    said: list[tuple[str, str]] = field(default_factory=list)
    watchers: list[asyncio.Queue[SessionEvent]] = field(default_factory=list)

    def watch(self, maxsize: int = 500) -> asyncio.Queue[SessionEvent]:
        queue: asyncio.Queue[SessionEvent] = asyncio.Queue(maxsize)
        self.watchers.append(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[SessionEvent]) -> None:
        self.watchers.remove(queue)

    def agent_say(self, agent_id: str, text: str) -> None:
        self.said.append((agent_id, text))

    def emit(self, event: SessionEvent) -> None:
        for q in self.watchers:
            q.put_nowait(event)


@pytest.fixture(params=["local", "redis"])
async def two_nodes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Cluster, Cluster]]:
    if request.param == "local":
        hub = LocalHub()
        a: Cluster = LocalCluster("node-a", hub)
        b: Cluster = LocalCluster("node-b", hub)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = "h" + uuid.uuid4().hex[:8]
        a = RedisCluster("node-a", server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=1.0)
        b = RedisCluster("node-b", server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=1.0)
    await a.start()
    await b.start()
    await asyncio.sleep(0.2)  # pub/sub listeners subscribed
    yield a, b
    await a.aclose()
    await b.aclose()


async def next_event(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(events), 5)


async def test_call_on_a_taken_over_by_agent_on_b(two_nodes: tuple[Cluster, Cluster]) -> None:
    a, b = two_nodes
    session = FakeSession(Request("acme"), transcript=[
        TurnRecord("s1", 1, "caller", "speech", "I want a refund", "en", {}, 1.0),
        TurnRecord("s1", 1, "bot", "speech", "Let me get someone for you.", "en", {}, 2.0)])
    owners: dict[str, str | None] = {}
    relay = asyncio.create_task(CallerRelay(a, {"s1": session}, owners.__setitem__).run())
    await a.enqueue(QueuedTicket("s1", "acme", "node-a", "caller asked for a person", False, 0.0))

    ticket = await b.claim("acme", "alice")
    assert ticket is not None and ticket.node == "node-a"
    agent = RemoteAgent(b, "alice", "acme")
    context = await agent.take(ticket.node, ticket.session_id)
    assert [t["text"] for t in context["transcript"]] == ["I want a refund", "Let me get someone for you."]
    assert context["channel"] == "phone" and owners == {"s1": "alice"}

    events = agent.events()
    session.emit(TranscriptFinal(2, "it arrived broken", "en", "speech"))
    got = await next_event(events)
    assert got == {"type": "transcript.final", "turn_id": 2, "text": "it arrived broken", "language": "en",
                   "modality": "speech"}
    await agent.say("I am sorry; I will refund you now.")
    for _ in range(50):
        if session.said:
            break
        await asyncio.sleep(0.05)
    assert session.said == [("alice", "I am sorry; I will refund you now.")]

    await agent.release()
    for _ in range(50):
        if owners["s1"] is None:
            break
        await asyncio.sleep(0.05)
    assert owners == {"s1": None} and session.watchers == []
    assert await a.owner("s1") is None
    relay.cancel()


async def test_session_end_reaches_the_agent(two_nodes: tuple[Cluster, Cluster]) -> None:
    a, b = two_nodes
    session = FakeSession(Request("acme"))
    relay = asyncio.create_task(CallerRelay(a, {"s2": session}, lambda s, o: None).run())
    agent = RemoteAgent(b, "bob", "acme")
    await agent.take("node-a", "s2")
    events = agent.events()
    session.emit(SessionEnded("s2", "hangup"))
    assert (await next_event(events))["type"] == "session.ended"
    with pytest.raises(StopAsyncIteration):
        await next_event(events)
    relay.cancel()


async def test_other_tenant_and_unknown_sessions_refused(two_nodes: tuple[Cluster, Cluster]) -> None:
    a, b = two_nodes
    session = FakeSession(Request("acme"))
    relay = asyncio.create_task(CallerRelay(a, {"s3": session}, lambda s, o: None).run())
    for tenant, sid in (("evil-corp", "s3"), ("acme", "nope")):
        with pytest.raises(GatewayError) as err:
            await RemoteAgent(b, "mallory", tenant).take("node-a", sid, timeout_s=2)
        assert err.value.code == "agent-session-gone"
    assert session.watchers == []
    relay.cancel()
