"""Handing a call on one node to a person whose agent connection is on another node.

The shared queue (Cluster.claim) decides who gets the ticket; cluster events carry the rest:

  agent.take     agent node -> caller node   {agent, tenant}
  agent.session  caller node -> agent node   {agent, transcript (JSON), language, channel}
  agent.refused  caller node -> agent node   {agent, reason}
  session.event  caller node -> agent node   {agent, event (the v1 wire form, JSON)}
  agent.say      agent node -> caller node   {agent, text}
  agent.release  agent node -> caller node   {agent}

`CallerRelay` runs on every node and serves takes of its own sessions; `RemoteAgent` is what an
agent connection uses when the ticket's caller is on another node. The transcript so far comes
from the caller's node (the last turns that fit in one event), so the agent sees it even while
the shared store is catching up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any, Protocol

from gateway.cluster.base import MAX_EVENT_BYTES, Cluster, ClusterEvent, ClusterUnavailable, Subscription
from gateway.errors import GatewayError
from gateway.events import SessionEnded, SessionEvent
from gateway.protocol.ws_v1 import to_json

log = logging.getLogger("gateway.cluster")
TRANSCRIPT_BUDGET = MAX_EVENT_BYTES // 2


class _Request(Protocol):
    @property
    def tenant(self) -> str: ...

    @property
    def channel(self) -> str: ...


class RelayableSession(Protocol):
    """What the relay needs of a live session (gateway.session.Session has all of it)."""

    @property
    def request(self) -> _Request: ...

    @property
    def language(self) -> str: ...

    @property
    def transcript(self) -> Iterable[Any]: ...

    def watch(self, maxsize: int = 500) -> asyncio.Queue[SessionEvent]: ...

    def unwatch(self, queue: asyncio.Queue[SessionEvent]) -> None: ...

    def agent_say(self, agent_id: str, text: str) -> None: ...


def _transcript_json(turns: Iterable[Any]) -> str:
    """The most recent turns that fit the budget, oldest first."""
    rows = [asdict(t) if is_dataclass(t) and not isinstance(t, type) else dict(t) for t in turns]
    kept: list[dict[str, Any]] = []
    size = 2
    for row in reversed(rows):
        encoded = len(json.dumps(row, ensure_ascii=False)) + 1
        if size + encoded > TRANSCRIPT_BUDGET:
            break
        kept.append(row)
        size += encoded
    return json.dumps(kept[::-1], ensure_ascii=False)


class CallerRelay:
    """Serves remote agents' takes of this node's sessions (run `run()` as a task)."""

    def __init__(self, cluster: Cluster, sessions: Mapping[str, RelayableSession],
                 set_owner: Callable[[str, str | None], None]) -> None:
        self.cluster = cluster
        self.sessions = sessions
        self.set_owner = set_owner  # marks who holds a session locally (None: the bot again)
        self._forwards: dict[str, tuple[str, asyncio.Task[None]]] = {}  # session -> (agent, task)
        self._subscription = cluster.subscribe()  # now, so no take is missed before run() starts

    async def run(self) -> None:
        subscription = self._subscription
        try:
            while True:
                event = await subscription.get()
                if event is not None and event.target == self.cluster.node_id:
                    try:
                        await self._on(event)
                    except GatewayError as exc:  # Redis away mid-handoff: the agent side times out
                        log.warning("handoff of %s: %s", event.session_id, exc.code)
        finally:
            self.cluster.unsubscribe(subscription)
            for _, task in self._forwards.values():
                task.cancel()

    async def _reply(self, request: ClusterEvent, kind: str, **data: str) -> None:
        await self.cluster.publish(ClusterEvent(kind, request.session_id, self.cluster.node_id,
                                                request.source, {"agent": request.data.get("agent", ""),
                                                                 **data}))

    async def _on(self, event: ClusterEvent) -> None:
        sid, agent = event.session_id, event.data.get("agent", "")
        session = self.sessions.get(sid)
        if event.kind == "agent.take":
            if session is None:
                await self._reply(event, "agent.refused", reason="agent-session-gone")
                return
            if session.request.tenant != event.data.get("tenant"):
                await self._reply(event, "agent.refused", reason="tenant-forbidden")
                return
            self.set_owner(sid, agent)
            await self._reply(event, "agent.session", transcript=_transcript_json(session.transcript),
                              language=session.language, channel=session.request.channel)
            watcher = session.watch()
            task = asyncio.create_task(self._forward(session, watcher, sid, agent, event.source))
            self._forwards[sid] = (agent, task)
        elif event.kind == "agent.say" and session is not None and self._holder(sid) == agent:
            session.agent_say(agent, event.data.get("text", "")[:4000])
        elif event.kind == "agent.release" and self._holder(sid) == agent:
            _, task = self._forwards.pop(sid)
            task.cancel()
            await asyncio.wait([task])  # the watcher is gone before the bot holds the call again
            self.set_owner(sid, None)

    def _holder(self, session_id: str) -> str | None:
        held = self._forwards.get(session_id)
        return held[0] if held else None

    async def _forward(self, session: RelayableSession, watcher: asyncio.Queue[SessionEvent], sid: str,
                       agent: str, target: str) -> None:
        try:
            while True:
                event = await watcher.get()
                try:
                    wire = json.dumps(to_json(event), ensure_ascii=False)
                except TypeError:
                    continue
                with contextlib.suppress(ClusterUnavailable):  # a notice lost; the store has the turn
                    await self.cluster.publish(ClusterEvent("session.event", sid, self.cluster.node_id,
                                                            target, {"agent": agent, "event": wire}))
                if isinstance(event, SessionEnded):
                    self._forwards.pop(sid, None)
                    return
        finally:
            session.unwatch(watcher)


class RemoteAgent:
    """An agent connection's handle on a session held by another node."""

    def __init__(self, cluster: Cluster, agent_id: str, tenant: str) -> None:
        self.cluster = cluster
        self.agent_id = agent_id
        self.tenant = tenant
        self.session_id: str | None = None
        self.node: str | None = None
        self._inbox: Subscription | None = None

    async def take(self, node: str, session_id: str, timeout_s: float = 5.0) -> dict[str, Any]:
        """Asks the caller's node for the session (already claimed from the queue by this agent);
        returns {transcript, language, channel}. GatewayError when refused or unanswered."""
        self._inbox = self.cluster.subscribe()
        await self.cluster.publish(ClusterEvent("agent.take", session_id, self.cluster.node_id, node,
                                                {"agent": self.agent_id, "tenant": self.tenant}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := deadline - loop.time()) > 0:
            event = await self._inbox.get(timeout_s=left)
            if event is None or event.session_id != session_id or event.data.get("agent") != self.agent_id:
                continue
            if event.kind == "agent.refused":
                break
            if event.kind == "agent.session":
                self.session_id, self.node = session_id, node
                return {"transcript": json.loads(event.data.get("transcript", "[]")),
                        "language": event.data.get("language", ""), "channel": event.data.get("channel", "")}
        self._close_inbox()
        with contextlib.suppress(GatewayError):
            await self.cluster.release(session_id)
        raise GatewayError("the caller's node did not hand the session over", code="agent-session-gone")

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The session's events in their v1 wire form, until it ends or is released."""
        while self._inbox is not None and self.session_id is not None:
            event = await self._inbox.get(timeout_s=1.0)
            if event is None or event.kind != "session.event" or event.session_id != self.session_id:
                continue
            if event.data.get("agent") != self.agent_id:
                continue
            wire = json.loads(event.data.get("event", "{}"))
            yield wire
            if wire.get("type") == "session.ended":
                self.session_id = None
                self._close_inbox()

    async def say(self, text: str) -> None:
        if self.session_id is None or self.node is None:
            raise GatewayError("take a session first", code="agent-no-session")
        await self.cluster.publish(ClusterEvent("agent.say", self.session_id, self.cluster.node_id, self.node,
                                                {"agent": self.agent_id, "text": text}))

    async def release(self) -> None:
        if self.session_id is not None and self.node is not None:
            sid, self.session_id = self.session_id, None
            with contextlib.suppress(GatewayError):
                await self.cluster.publish(ClusterEvent("agent.release", sid, self.cluster.node_id, self.node,
                                                        {"agent": self.agent_id}))
                await self.cluster.release(sid)
        self._close_inbox()

    def _close_inbox(self) -> None:
        if self._inbox is not None:
            self.cluster.unsubscribe(self._inbox)
            self._inbox = None
