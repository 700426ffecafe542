"""The agent desk of one node: the shared queue of calls waiting for a person, seen from here.

The conversation core keeps its own in-process `AgentQueue` (it decides when the bot stays silent
and tells callers their place). The desk mirrors each of this node's tickets into the cluster
queue, so an agent connected to any node sees and takes them, and keeps the local ownership in
step when a take or release comes from elsewhere (`set_owner`, used by `CallerRelay`).

While the shared queue is unreachable the desk degrades to the node's own queue: agents on this
node still see and take this node's callers (code paths marked "degraded").
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from gateway.cluster.base import Cluster, ClusterUnavailable, QueuedTicket
from gateway.core.agents import AgentQueue, Ticket
from gateway.errors import LimitExceeded

log = logging.getLogger("gateway.cluster")


class _Request(Protocol):
    @property
    def tenant(self) -> str: ...


class _Session(Protocol):
    @property
    def request(self) -> _Request: ...


class AgentDesk:
    def __init__(self, cluster: Cluster, queue: AgentQueue, sessions: Mapping[str, _Session],
                 spawn: Callable[[Awaitable[object]], None]) -> None:
        self.cluster = cluster
        self.queue = queue  # the core's queue of this node's callers
        self.sessions = sessions  # this node's live sessions
        self._spawn = spawn  # runs a coroutine in the background (the gateway's tracked tasks)
        self._published: set[str] = set()  # this node's tickets the shared queue has
        queue.on_enqueue = self._mirror

    @property
    def node_id(self) -> str:
        return self.cluster.node_id

    def _tenant_of(self, session_id: str) -> str | None:
        session = self.sessions.get(session_id)
        return session.request.tenant if session is not None else None

    def _shared(self, ticket: Ticket, tenant: str) -> QueuedTicket:
        waited = time.monotonic() - ticket.queued_at if ticket.queued_at else 0.0
        return QueuedTicket(ticket.session_id, tenant, self.node_id, ticket.reason, ticket.urgent,
                            time.time() - waited, dict(ticket.package))

    def _mirror(self, ticket: Ticket) -> None:
        """Called by the core's queue when one of this node's callers starts waiting."""
        tenant = self._tenant_of(ticket.session_id)
        if tenant is None:
            return
        shared = self._shared(ticket, tenant)

        async def publish() -> None:
            try:
                await self.cluster.enqueue(shared)
                self._published.add(ticket.session_id)
                if not self.queue.position(ticket.session_id):  # taken here while this was in flight
                    await self.cancel(tenant, ticket.session_id)
            except ClusterUnavailable as exc:  # degraded: this node's agents still see it
                log.warning("agent queue: ticket %s kept on this node only: %s", ticket.session_id,
                            exc.message)
            except LimitExceeded as exc:
                log.warning("agent queue: %s", exc.message)

        self._spawn(publish())

    def _local(self, tenant: str, *, unpublished: bool = False) -> list[QueuedTicket]:
        return [self._shared(t, tenant) for t in self.queue.waiting()
                if self._tenant_of(t.session_id) == tenant
                and not (unpublished and t.session_id in self._published)]

    async def waiting(self, tenant: str) -> list[QueuedTicket]:
        """The tenant's waiting callers on every node (urgent first)."""
        try:
            shared = await self.cluster.waiting(tenant)
        except ClusterUnavailable:
            return self._local(tenant)  # degraded
        # A ticket the mirror could not publish (yet) is still this node's to offer.
        return shared + self._local(tenant, unpublished=True)

    async def claim(self, tenant: str, agent_id: str, session_id: str | None) -> QueuedTicket | None:
        """The ticket (that session's, or the next), now owned by agent_id. A ticket of this node
        also silences the bot here; one of another node is handed over by its CallerRelay."""
        try:
            ticket = await self.cluster.claim(tenant, agent_id, session_id)
            local = self._local(tenant, unpublished=True)
        except ClusterUnavailable:
            ticket, local = None, self._local(tenant)  # degraded: this node's own queue
        if ticket is None:
            ticket = next((t for t in local if session_id in (None, t.session_id)), None)
        if ticket is not None and ticket.node == self.node_id:
            self._published.discard(ticket.session_id)
            if ticket.session_id not in self.sessions:  # a stale ticket: the caller is gone
                await self.release(ticket.session_id)
                return None
            self.queue.assign(ticket.session_id, agent_id)
        return ticket

    def set_owner(self, session_id: str, agent_id: str | None) -> None:
        """A person on another node took (agent_id) or released (None) one of this node's calls."""
        if agent_id is None:
            self.queue.release(session_id)
        else:
            self._published.discard(session_id)
            self.queue.assign(session_id, agent_id)

    async def release(self, session_id: str) -> None:
        self.queue.release(session_id)
        with contextlib.suppress(ClusterUnavailable):  # else the owner key expires by itself
            await self.cluster.release(session_id)

    async def cancel(self, tenant: str, session_id: str) -> None:
        """The caller left: no agent should find the ticket any more."""
        self._published.discard(session_id)
        with contextlib.suppress(ClusterUnavailable):  # else: the ticket expires, or its node refuses a take
            await self.cluster.cancel(tenant, session_id)
