"""The in-process cluster: one node's registry, queue and events (the single-node default).

A `LocalHub` holds the shared state; several LocalCluster objects on one hub behave like nodes
on one Redis (used by tests to run the same scenarios against both implementations).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field

from gateway.cluster.base import (
    ClusterEvent,
    QueuedTicket,
    SessionLocation,
    Subscribers,
    check_package,
)
from gateway.errors import LimitExceeded


@dataclass
class LocalHub:
    queue_max: int = 64
    sessions: dict[str, SessionLocation] = field(default_factory=dict)
    urgent: dict[str, deque[QueuedTicket]] = field(default_factory=dict)
    normal: dict[str, deque[QueuedTicket]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, LocalCluster] = field(default_factory=dict)


class LocalCluster(Subscribers):
    def __init__(self, node_id: str, hub: LocalHub | None = None) -> None:
        super().__init__()
        self.node_id = node_id
        self.hub = hub or LocalHub()

    @property
    def available(self) -> bool:
        return True

    async def start(self) -> None:
        self.hub.nodes[self.node_id] = self

    async def aclose(self) -> None:
        self.hub.nodes.pop(self.node_id, None)
        for sid in [s for s, loc in self.hub.sessions.items() if loc.node == self.node_id]:
            self.hub.sessions.pop(sid, None)

    async def register(self, location: SessionLocation) -> bool:
        self.hub.sessions[location.session_id] = location
        return True

    async def admit(self, location: SessionLocation, cap: int) -> bool:
        live = sum(1 for s in self.hub.sessions.values()
                   if s.tenant == location.tenant and s.session_id != location.session_id)
        if live >= cap:
            return False
        return await self.register(location)

    async def unregister(self, session_id: str) -> bool:
        self.hub.sessions.pop(session_id, None)
        return True

    async def locate(self, session_id: str) -> SessionLocation | None:
        return self.hub.sessions.get(session_id)

    async def sessions(self, tenant: str) -> list[SessionLocation]:
        mine = (s for s in self.hub.sessions.values() if s.tenant == tenant)
        return sorted(mine, key=lambda s: s.started_at)

    async def nodes(self) -> list[str]:
        return sorted(self.hub.nodes)

    def _lists(self, tenant: str) -> tuple[deque[QueuedTicket], deque[QueuedTicket]]:
        return self.hub.urgent.setdefault(tenant, deque()), self.hub.normal.setdefault(tenant, deque())

    async def enqueue(self, ticket: QueuedTicket) -> int:
        check_package(ticket.package)
        position = await self._position(ticket.tenant, ticket.session_id)
        if position:
            return position
        urgent, normal = self._lists(ticket.tenant)
        if len(urgent) + len(normal) >= self.hub.queue_max:
            raise LimitExceeded(f"agent queue is full ({self.hub.queue_max} waiting)",
                                code="agent-queue-full")
        if not ticket.queued_at:
            ticket = dataclasses.replace(ticket, queued_at=time.time())
        (urgent if ticket.urgent else normal).append(ticket)
        return await self._position(ticket.tenant, ticket.session_id)

    async def _position(self, tenant: str, session_id: str) -> int:
        for i, t in enumerate(await self.waiting(tenant), start=1):
            if t.session_id == session_id:
                return i
        return 0

    async def claim(self, tenant: str, agent_id: str, session_id: str | None = None) -> QueuedTicket | None:
        for queue in self._lists(tenant):
            for ticket in queue:
                if session_id is None or ticket.session_id == session_id:
                    queue.remove(ticket)
                    self.hub.owners[ticket.session_id] = agent_id
                    return ticket
        return None

    async def waiting(self, tenant: str) -> list[QueuedTicket]:
        urgent, normal = self._lists(tenant)
        return [*urgent, *normal]

    async def owner(self, session_id: str) -> str | None:
        return self.hub.owners.get(session_id)

    async def release(self, session_id: str) -> None:
        self.hub.owners.pop(session_id, None)

    async def cancel(self, tenant: str, session_id: str) -> None:
        for queue in self._lists(tenant):
            for t in [t for t in queue if t.session_id == session_id]:
                queue.remove(t)
        self.hub.owners.pop(session_id, None)

    async def publish(self, event: ClusterEvent) -> None:
        for node in list(self.hub.nodes.values()):
            if event.target in ("*", node.node_id):
                node.deliver(event)

