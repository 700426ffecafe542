"""Two nodes sharing sessions, the agent queue and events: LocalHub and a real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.cluster import (
    Cluster,
    ClusterEvent,
    ClusterSettings,
    ClusterUnavailable,
    LocalCluster,
    LocalHub,
    QueuedTicket,
    SessionLocation,
    open_cluster,
)
from gateway.cluster.base import decode_event
from gateway.cluster.redis_cluster import RedisCluster
from gateway.errors import ConfigError, GatewayError, LimitExceeded
from tests.cluster.conftest import RedisServer

Pair = tuple[Cluster, Cluster]


@pytest.fixture(params=["local", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    if request.param == "local":
        hub = LocalHub(queue_max=4)
        pair: Pair = (LocalCluster("node-a", hub), LocalCluster("node-b", hub))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = "t" + uuid.uuid4().hex[:8]
        pair = tuple(RedisCluster(n, server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=1.0, queue_max=4)
                     for n in ("node-a", "node-b"))  # type: ignore[assignment]
    for node in pair:
        await node.start()
    yield pair
    for node in pair:
        await node.aclose()


def loc(session_id: str, node: str, tenant: str = "acme", at: float = 1.0) -> SessionLocation:
    return SessionLocation(session_id, node, tenant, "phone", at)


def ticket(session_id: str, node: str = "node-a", tenant: str = "acme", urgent: bool = False) -> QueuedTicket:
    return QueuedTicket(session_id, tenant, node, "caller asked for a person", urgent, 0.0,
                        {"summary": "refund", "turns": ["I want a refund"]})


async def test_nodes_see_each_others_sessions(nodes: Pair) -> None:
    a, b = nodes
    assert await a.register(loc("s1", "node-a", at=1.0))
    assert await b.register(loc("s2", "node-b", at=2.0))
    await b.register(loc("s3", "node-b", tenant="other"))
    assert await b.locate("s1") == loc("s1", "node-a", at=1.0)
    assert await a.locate("s2") == loc("s2", "node-b", at=2.0)
    assert [s.session_id for s in await a.sessions("acme")] == ["s1", "s2"]
    assert [s.session_id for s in await a.sessions("other")] == ["s3"]
    assert await a.nodes() == ["node-a", "node-b"]
    await a.unregister("s1")
    assert await b.locate("s1") is None
    assert [s.session_id for s in await b.sessions("acme")] == ["s2"]


async def test_tenant_cap_counts_sessions_on_every_node(nodes: Pair) -> None:
    a, b = nodes
    assert await a.admit(loc("s1", "node-a"), cap=2)
    assert await b.admit(loc("s2", "node-b"), cap=2)
    assert not await a.admit(loc("s3", "node-a"), cap=2)  # acme's 2 slots are in use, one per node
    assert await b.locate("s3") is None  # refused means not registered
    assert await a.admit(loc("s4", "node-a", tenant="other"), cap=2)  # another tenant's own count
    assert await a.admit(loc("s1", "node-a"), cap=2)  # the same session again is not a new one
    await b.unregister("s2")
    assert await a.admit(loc("s3", "node-a"), cap=2)
    assert [s.session_id for s in await b.sessions("acme")] == ["s1", "s3"]


async def test_concurrent_admits_never_exceed_the_cap(nodes: Pair) -> None:
    a, b = nodes
    results = await asyncio.gather(*(node.admit(loc(f"s{i}{node.node_id}", node.node_id), cap=3)
                                     for i in range(10) for node in (a, b)))
    assert sum(results) == 3
    assert len(await a.sessions("acme")) == 3


async def test_ticket_queued_on_a_is_taken_on_b(nodes: Pair) -> None:
    a, b = nodes
    assert await a.enqueue(ticket("s1")) == 1
    assert await a.enqueue(ticket("s2")) == 2
    assert await a.enqueue(ticket("s3", urgent=True)) == 1  # urgent goes first
    assert await a.enqueue(ticket("s1")) == 2  # queued once, keeps its place
    assert await b.enqueue(ticket("x1", tenant="other")) == 1
    assert [t.session_id for t in await b.waiting("acme")] == ["s3", "s1", "s2"]
    taken = await b.claim("acme", "agent-bob")
    assert taken is not None and taken.session_id == "s3" and taken.node == "node-a"
    assert taken.package["turns"] == ["I want a refund"] and taken.queued_at > 0
    assert await a.owner("s3") == "agent-bob"
    chosen = await b.claim("acme", "agent-bob", "s2")
    assert chosen is not None and chosen.session_id == "s2"
    assert await b.claim("acme", "agent-bob", "s2") is None  # already taken
    assert [t.session_id for t in await a.waiting("acme")] == ["s1"]
    assert [t.session_id for t in await a.waiting("other")] == ["x1"]  # tenants never mix
    await a.cancel("acme", "s1")
    assert await b.claim("acme", "agent-carol") is None
    await a.release("s3")
    assert await b.owner("s3") is None


async def test_concurrent_claims_never_share_a_ticket(nodes: Pair) -> None:
    a, b = nodes
    for i in range(4):
        await a.enqueue(ticket(f"s{i}"))
    got = await asyncio.gather(*(n.claim("acme", f"agent-{i}") for i, n in enumerate([a, b] * 3)))
    ids = [t.session_id for t in got if t is not None]
    assert sorted(ids) == ["s0", "s1", "s2", "s3"]


async def test_queue_is_bounded(nodes: Pair) -> None:
    a, _ = nodes
    for i in range(4):
        await a.enqueue(ticket(f"s{i}"))
    with pytest.raises(LimitExceeded) as err:
        await a.enqueue(ticket("s9"))
    assert err.value.code == "agent-queue-full"
    with pytest.raises(LimitExceeded):
        await a.enqueue(QueuedTicket("big", "t2", "node-a", "r", False, 0.0, {"x": "y" * 40_000}))


async def test_events_cross_nodes(nodes: Pair) -> None:
    a, b = nodes
    inbox_a, inbox_b = a.subscribe(), b.subscribe()
    await asyncio.sleep(0.2)  # the Redis listener subscribes
    await b.publish(ClusterEvent("agent.take", "s1", "node-b", "node-a", {"agent": "bob"}))
    await a.publish(ClusterEvent("session.end", "s2", "node-a"))
    got = await inbox_a.get(timeout_s=3)
    assert got == ClusterEvent("agent.take", "s1", "node-b", "node-a", {"agent": "bob"})
    assert (await inbox_a.get(timeout_s=3)) == ClusterEvent("session.end", "s2", "node-a")
    assert (await inbox_b.get(timeout_s=3)) == ClusterEvent("session.end", "s2", "node-a")
    assert await inbox_b.get(timeout_s=0.3) is None  # the take was addressed to node-a only
    a.unsubscribe(inbox_a)


async def test_dead_node_sessions_expire(redis_server: RedisServer) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    a = RedisCluster("node-a", redis_server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=2.0)
    b = RedisCluster("node-b", redis_server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=2.0)
    await a.start()
    await b.start()
    await a.register(loc("s1", "node-a"))
    await asyncio.sleep(2.5)
    assert await b.locate("s1") is not None  # kept alive by node-a's heartbeat
    for task in a._tasks:  # node-a dies: no more heartbeats, no clean unregister
        task.cancel()
    await asyncio.sleep(3.0)
    assert await b.locate("s1") is None
    assert await b.sessions("acme") == []
    assert await b.nodes() == ["node-b"]
    assert await b.admit(loc("s2", "node-b"), cap=1)  # the dead node's session holds no slot
    await b.aclose()


async def test_redis_killed_degrades_then_recovers(redis_server: RedisServer) -> None:
    prefix = "t" + uuid.uuid4().hex[:8]
    a = RedisCluster("node-a", redis_server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=2.0, timeout_s=0.5)
    b = RedisCluster("node-b", redis_server.url, prefix=prefix, heartbeat_s=0.2, ttl_s=2.0, timeout_s=0.5)
    await a.start()
    await b.start()
    await a.register(loc("s1", "node-a"))
    inbox = b.subscribe()
    await asyncio.sleep(0.3)
    await asyncio.to_thread(redis_server.kill)

    assert not await a.register(loc("s2", "node-a"))  # the call goes on; registration waits
    for op in (lambda: b.locate("s1"), lambda: b.sessions("acme"), lambda: b.enqueue(ticket("s1")),
               lambda: b.claim("acme", "bob"), lambda: a.publish(ClusterEvent("x", "s1", "node-a"))):
        with pytest.raises(ClusterUnavailable) as err:
            await op()
        assert err.value.code == "cluster-unavailable"
    assert not a.available and not b.available

    await asyncio.to_thread(redis_server.start)  # back, and empty (no persistence)
    for _ in range(50):  # heartbeats re-register every live session of node-a
        if await b.locate("s2") is not None:
            break
        await asyncio.sleep(0.1)
    assert a.available
    assert await b.locate("s1") is not None and await b.locate("s2") is not None
    assert await b.enqueue(ticket("s1")) == 1
    taken = await b.claim("acme", "bob")
    assert taken is not None and taken.session_id == "s1"
    received = None
    for _ in range(20):  # the pub/sub listener reconnects with backoff (at most 2 s)
        await a.publish(ClusterEvent("agent.take", "s1", "node-a", "node-b"))
        if (received := await inbox.get(timeout_s=0.5)) is not None:
            break
    assert received == ClusterEvent("agent.take", "s1", "node-a", "node-b")
    await a.aclose()
    await b.aclose()


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"kind": 1, "session_id": "s", "source": "a"}',
                                 b'{"kind": "k", "session_id": "s", "source": "a", "data": []}',
                                 b'{"kind": "k"}', b"x" * 70_000])
def test_malformed_events_rejected(raw: bytes) -> None:
    with pytest.raises(GatewayError) as err:
        decode_event(raw)
    assert err.value.code == "cluster-bad-event"


@pytest.mark.parametrize("kwargs", [{"backend": "zookeeper"}, {"backend": "redis", "redis_url": "http://x"},
                                    {"node_id": "a b"}, {"heartbeat_s": 5, "ttl_s": 6}, {"queue_max": 0}])
def test_settings_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ClusterSettings(**kwargs).validate()  # type: ignore[arg-type]


def test_open_cluster_defaults_to_local() -> None:
    settings = ClusterSettings(node_id="n1")
    settings.validate()
    cluster = open_cluster(settings)
    assert isinstance(cluster, LocalCluster) and cluster.node_id == "n1"
    assert isinstance(open_cluster(ClusterSettings(backend="redis", node_id="n2")), RedisCluster)
