"""The agent desk: each node's core queue mirrored into the shared queue, takes from any node,
and the node's own queue while the shared one is unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

import pytest

from gateway.cluster import ClusterUnavailable, LocalCluster, LocalHub, QueuedTicket
from gateway.cluster.desk import AgentDesk
from gateway.core.agents import AgentQueue, Ticket


@dataclass(frozen=True)
class Request:
    tenant: str


@dataclass(frozen=True)
class FakeSession:
    request: Request


class Node:
    def __init__(self, cluster: LocalCluster) -> None:
        self.queue = AgentQueue()
        self.sessions: dict[str, FakeSession] = {}
        self.tasks: set[asyncio.Task[object]] = set()
        self.desk = AgentDesk(cluster, self.queue, self.sessions, self.spawn)

    def spawn(self, work: Awaitable[object]) -> None:
        async def run() -> object:
            return await work

        self.tasks.add(asyncio.get_running_loop().create_task(run()))

    async def settled(self) -> None:
        await asyncio.gather(*self.tasks)
        self.tasks.clear()

    def caller_waits(self, session_id: str, tenant: str = "acme", urgent: bool = False) -> None:
        self.sessions[session_id] = FakeSession(Request(tenant))
        self.queue.enqueue(Ticket(session_id, "caller-request", urgent, {"summary": "refund"}))


class Unreachable(LocalCluster):
    """A shared queue that is down (Redis unreachable)."""

    async def enqueue(self, ticket: QueuedTicket) -> int:
        raise ClusterUnavailable("down")

    async def waiting(self, tenant: str) -> list[QueuedTicket]:
        raise ClusterUnavailable("down")

    async def claim(self, tenant: str, agent_id: str, session_id: str | None = None) -> QueuedTicket | None:
        raise ClusterUnavailable("down")


async def test_a_callers_ticket_is_seen_and_taken_from_another_node() -> None:
    hub = LocalHub()
    a, b = Node(LocalCluster("node-a", hub)), Node(LocalCluster("node-b", hub))
    a.caller_waits("s1")
    a.caller_waits("s2", tenant="globex")
    await a.settled()
    seen = await b.desk.waiting("acme")
    assert [(t.session_id, t.node, t.reason) for t in seen] == [("s1", "node-a", "caller-request")]
    assert await b.desk.claim("globex", "gus", "s1") is None  # another tenant cannot take it
    taken = await b.desk.claim("acme", "anna", None)
    assert taken is not None and (taken.session_id, taken.node) == ("s1", "node-a")
    assert await a.desk.waiting("acme") == []  # gone from the shared queue for every node
    assert a.queue.owner("s1") is None  # node A learns of it from the take (CallerRelay) ...
    a.desk.set_owner("s1", "anna")
    assert a.queue.owner("s1") == "anna" and a.queue.position("s1") == 0  # ... and the bot is silent
    a.desk.set_owner("s1", None)
    assert a.queue.owner("s1") is None


async def test_a_take_on_the_callers_node_silences_the_bot_there() -> None:
    a = Node(LocalCluster("node-a", LocalHub()))
    a.caller_waits("s1")
    a.caller_waits("s2", urgent=True)
    await a.settled()
    taken = await a.desk.claim("acme", "anna", None)
    assert taken is not None and taken.session_id == "s2"  # urgent first
    assert a.queue.owner("s2") == "anna"
    await a.desk.release("s2")
    assert a.queue.owner("s2") is None
    assert [t.session_id for t in await a.desk.waiting("acme")] == ["s1"]


async def test_a_ticket_whose_caller_left_is_not_handed_out() -> None:
    a = Node(LocalCluster("node-a", LocalHub()))
    a.caller_waits("s1")
    await a.settled()
    del a.sessions["s1"]  # the caller hung up; the cancel has not reached the shared queue
    assert await a.desk.claim("acme", "anna", "s1") is None
    assert await a.desk.cluster.owner("s1") is None  # the claim was undone, not left dangling
    assert await a.desk.waiting("acme") == []


async def test_with_the_shared_queue_down_the_nodes_own_callers_are_still_served() -> None:
    a = Node(Unreachable("node-a", LocalHub()))
    a.caller_waits("s1")
    a.caller_waits("s2", tenant="globex")
    await a.settled()  # the mirror failed, logged, and the ticket stayed here
    assert [t.session_id for t in await a.desk.waiting("acme")] == ["s1"]
    taken = await a.desk.claim("acme", "anna", None)
    assert taken is not None and taken.session_id == "s1" and taken.node == "node-a"
    assert a.queue.owner("s1") == "anna"
    await a.desk.release("s1")  # the release reaches what it can
    assert a.queue.owner("s1") is None


async def test_a_ticket_published_late_is_offered_once() -> None:
    """The mirror is still in flight when a local agent lists and takes: the ticket is offered
    from the node's own queue, and once the mirror lands it is withdrawn from the shared one."""
    hub = LocalHub()
    a, b = Node(LocalCluster("node-a", hub)), Node(LocalCluster("node-b", hub))
    a.caller_waits("s1")  # the publish task has not run yet
    assert [t.session_id for t in await a.desk.waiting("acme")] == ["s1"]
    taken = await a.desk.claim("acme", "anna", "s1")
    assert taken is not None and a.queue.owner("s1") == "anna"
    await a.settled()
    assert await b.desk.waiting("acme") == []


async def test_a_cancel_that_lands_as_an_event_arrives_still_cancels() -> None:
    """An agent's relay waits in Subscription.get; releasing the call cancels it. On Python 3.11
    asyncio.wait_for returns the event instead when both happen in one loop step, and the relay
    would never stop (a release then hung): the subscription must not swallow the cancel."""
    from gateway.cluster import ClusterEvent
    from gateway.cluster.base import Subscription

    sub = Subscription()
    waiting = asyncio.create_task(sub.get(timeout_s=5))
    await asyncio.sleep(0.01)
    sub.offer(ClusterEvent("session.event", "s1", "node-a"))
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
