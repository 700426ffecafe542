"""What gateway nodes share: where each live session runs, the agent queue, and events between nodes.

Two implementations with one interface: `LocalCluster` (one process; the single-node default) and
`RedisCluster` (many nodes on one Redis). Registration is best effort (a call never fails because
the registry is away: the node re-registers its sessions on the next heartbeat); queries and the
queue raise ClusterUnavailable (code `cluster-unavailable`) while the shared state is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from gateway.errors import BackendError, ConfigError, LimitExceeded, ProtocolError

MAX_EVENT_BYTES = 64 * 1024
MAX_PACKAGE_BYTES = 32 * 1024
_NODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ClusterUnavailable(BackendError):
    code = "cluster-unavailable"


@dataclass(frozen=True)
class SessionLocation:
    session_id: str
    node: str
    tenant: str
    channel: str
    started_at: float


@dataclass(frozen=True)
class QueuedTicket:
    """A session waiting for a person; `node` is where the caller is connected."""

    session_id: str
    tenant: str
    node: str
    reason: str
    urgent: bool
    queued_at: float
    package: Mapping[str, Any] = field(default_factory=dict)  # context for the agent (PII-masked)


@dataclass(frozen=True)
class ClusterEvent:
    """A notice from one node to another (or to all: target "*"), e.g. an agent on node B took
    a session whose caller is on node A: {"kind": "agent.take", "session_id": ..., "target": "A"}."""

    kind: str
    session_id: str
    source: str
    target: str = "*"
    data: Mapping[str, str] = field(default_factory=dict)


def encode_json(obj: Any) -> str:
    return json.dumps(asdict(obj), ensure_ascii=False, separators=(",", ":"))


def decode_event(raw: bytes | str) -> ClusterEvent:
    if len(raw) > MAX_EVENT_BYTES:
        raise ProtocolError("cluster event too large", code="cluster-bad-event")
    try:
        data = json.loads(raw)
        event = ClusterEvent(**data)
    except (ValueError, TypeError, RecursionError):
        raise ProtocolError("cluster event is malformed", code="cluster-bad-event") from None
    if not all(isinstance(v, str) for v in (event.kind, event.session_id, event.source, event.target)):
        raise ProtocolError("cluster event fields must be strings", code="cluster-bad-event")
    if not isinstance(event.data, dict):
        raise ProtocolError("cluster event data must be an object", code="cluster-bad-event")
    return event


def check_package(package: Mapping[str, Any]) -> None:
    if len(json.dumps(package, ensure_ascii=False)) > MAX_PACKAGE_BYTES:
        raise LimitExceeded(f"handoff package over {MAX_PACKAGE_BYTES} bytes", code="limit-exceeded")


class Subscription:
    """One consumer's bounded inbox of cluster events. Overflow drops the oldest event (events
    are notices; the state they announce is in the registry and queue) and counts it."""

    def __init__(self, maxsize: int = 256) -> None:
        self._queue: asyncio.Queue[ClusterEvent] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def offer(self, event: ClusterEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self, timeout_s: float | None = None) -> ClusterEvent | None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that lands
        # as an event arrives, and the consumer's task (an agent's relay) then never stops.
        try:
            async with asyncio.timeout(timeout_s):
                return await self._queue.get()
        except TimeoutError:
            return None


class Subscribers:
    """A node's event consumers; both backends deliver the events addressed to it here."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(self, maxsize: int = 256) -> Subscription:
        sub = Subscription(maxsize)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def deliver(self, event: ClusterEvent) -> None:
        for sub in self._subscriptions:
            sub.offer(event)


class Cluster(Protocol):
    node_id: str

    @property
    def available(self) -> bool: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    # registry
    async def register(self, location: SessionLocation) -> bool:
        """Records a live session of this node; False when the shared registry could not be
        written now (the heartbeat retries). Never raises for an unavailable backend."""

    async def admit(self, location: SessionLocation, cap: int) -> bool:
        """Registers the session only if its tenant has fewer than `cap` live sessions on all
        nodes (atomically); False at the cap. Raises ClusterUnavailable when it cannot tell."""

    async def unregister(self, session_id: str) -> bool: ...

    async def locate(self, session_id: str) -> SessionLocation | None: ...

    async def sessions(self, tenant: str) -> list[SessionLocation]: ...

    async def nodes(self) -> list[str]: ...

    # agent queue (per tenant, urgent first, bounded)
    async def enqueue(self, ticket: QueuedTicket) -> int:
        """1-based position; the same session twice keeps its place. Full: LimitExceeded
        `agent-queue-full`."""

    async def claim(self, tenant: str, agent_id: str, session_id: str | None = None) -> QueuedTicket | None:
        """The next ticket of the tenant (or that session's), now owned by agent_id."""

    async def waiting(self, tenant: str) -> list[QueuedTicket]: ...

    async def owner(self, session_id: str) -> str | None: ...

    async def release(self, session_id: str) -> None: ...

    async def cancel(self, tenant: str, session_id: str) -> None: ...

    # events
    async def publish(self, event: ClusterEvent) -> None: ...

    def subscribe(self, maxsize: int = 256) -> Subscription:
        """Events addressed to this node or to all nodes."""
        ...

    def unsubscribe(self, subscription: Subscription) -> None: ...


@dataclass(frozen=True)
class ClusterSettings:
    backend: str = "local"  # "local" (one node) or "redis"
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)  # may hold a password
    node_id: str = ""  # "" = hostname (a pod name in Kubernetes)
    key_prefix: str = "gw"  # several gateways can share one Redis under different prefixes
    heartbeat_s: float = 2.0  # how often a node refreshes its sessions
    ttl_s: float = 10.0  # a node silent this long is dead and its sessions vanish
    queue_max: int = 64  # waiting tickets per tenant
    timeout_s: float = 1.0  # per Redis command

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        check(self.backend in ("local", "redis"), "cluster.backend must be 'local' or 'redis'")
        check(self.backend != "redis" or self.redis_url.startswith(("redis://", "rediss://", "unix://")),
              "cluster.redis_url must be a redis:// URL")
        check(not self.node_id or _NODE.match(self.node_id) is not None,
              "cluster.node_id must be 1..64 of A-Z a-z 0-9 _ . -")
        check(_NODE.match(self.key_prefix) is not None,
              "cluster.key_prefix must be 1..64 of A-Z a-z 0-9 _ . -")
        check(0.2 <= self.heartbeat_s <= 60, "cluster.heartbeat_s must be 0.2..60")
        check(self.ttl_s >= 2 * self.heartbeat_s, "cluster.ttl_s must be at least 2 x heartbeat_s")
        check(1 <= self.queue_max <= 10_000, "cluster.queue_max must be 1..10000")
        check(0.05 <= self.timeout_s <= 30, "cluster.timeout_s must be 0.05..30")
