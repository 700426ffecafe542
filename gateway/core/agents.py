"""The in-process queue of sessions waiting for a human agent (bounded, urgent first).

Pure bookkeeping plus an asyncio.Condition so an agent connection can wait for the next ticket.
The lead's WebSocket agent role claims tickets and receives their context package.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import LimitExceeded


@dataclass(frozen=True)
class Ticket:
    session_id: str
    reason: str
    urgent: bool
    package: Mapping[str, Any] = field(default_factory=dict)
    queued_at: float = 0.0  # monotonic seconds


class AgentQueue:
    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self._urgent: deque[Ticket] = deque()
        self._normal: deque[Ticket] = deque()
        self._owners: dict[str, str] = {}  # session_id -> agent_id
        self._changed = asyncio.Condition()
        # Told of each new ticket (the gateway's AgentDesk publishes it to every node's agents).
        self.on_enqueue: Callable[[Ticket], None] | None = None

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def enqueue(self, ticket: Ticket) -> int:
        """Queue a session (once); returns its 1-based position. Full queue: LimitExceeded."""
        for position, waiting in enumerate(self.waiting(), start=1):
            if waiting.session_id == ticket.session_id:
                return position
        if len(self) >= self.maxsize:
            raise LimitExceeded(f"agent queue is full ({self.maxsize} waiting)", code="agent-queue-full")
        if not ticket.queued_at:
            ticket = Ticket(ticket.session_id, ticket.reason, ticket.urgent, ticket.package, time.monotonic())
        (self._urgent if ticket.urgent else self._normal).append(ticket)
        self._notify()
        if self.on_enqueue is not None:
            self.on_enqueue(ticket)
        return self.position(ticket.session_id)

    def waiting(self) -> list[Ticket]:
        return [*self._urgent, *self._normal]

    def position(self, session_id: str) -> int:
        for i, t in enumerate(self.waiting(), start=1):
            if t.session_id == session_id:
                return i
        return 0

    def claim(self, agent_id: str) -> Ticket | None:
        """The next ticket (urgent first), now owned by agent_id."""
        queue = self._urgent or self._normal
        if not queue:
            return None
        ticket = queue.popleft()
        self._owners[ticket.session_id] = agent_id
        return ticket

    def claim_session(self, agent_id: str, session_id: str) -> Ticket | None:
        """That session's ticket, now owned by agent_id (None when it is not waiting)."""
        for queue in (self._urgent, self._normal):
            for ticket in queue:
                if ticket.session_id == session_id:
                    queue.remove(ticket)
                    self._owners[session_id] = agent_id
                    return ticket
        return None

    def assign(self, session_id: str, agent_id: str) -> None:
        """agent_id now owns the session, whether or not its ticket is still here (the take may
        come from another node's agent through the shared queue)."""
        self.claim_session(agent_id, session_id)
        self._owners[session_id] = agent_id

    async def next(self, agent_id: str, wait_s: float | None = None) -> Ticket | None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(self) > 0), wait_s)
            except TimeoutError:
                return None
            return self.claim(agent_id)

    def owner(self, session_id: str) -> str | None:
        return self._owners.get(session_id)

    def release(self, session_id: str) -> None:
        """The agent is done: the bot may answer this session again."""
        self._owners.pop(session_id, None)

    def cancel(self, session_id: str) -> None:
        """The caller left: drop the ticket and any ownership."""
        for queue in (self._urgent, self._normal):
            for t in [t for t in queue if t.session_id == session_id]:
                queue.remove(t)
        self._owners.pop(session_id, None)

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):  # no loop (a synchronous caller): nobody waits
            asyncio.get_running_loop().create_task(wake())
