"""The agent role on the WebSocket protocol: a person takes a waiting call over.

An agent connection lists the queue, takes a session (urgent first), receives its context
package and the transcript so far, then every event of that session live (`agent.event`), and
speaks to the caller with `agent.say` (voiced in the session's language and stored as the
agent's turn). While a person owns the session the bot stays silent; `agent.release` gives it back.

The queue is the cluster's (gateway.cluster.desk): the caller may be connected to another node,
in which case the session is held through cluster events (`RemoteAgent`) instead of directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.app import Gateway
from gateway.cluster.desk import AgentDesk
from gateway.cluster.handoff import RemoteAgent
from gateway.errors import GatewayError
from gateway.events import ErrorEvent, SessionEnded
from gateway.inputs import End
from gateway.protocol.wire import dumps_wire
from gateway.protocol.ws_v1 import AgentList, AgentRelease, AgentSay, AgentTake, ServerProtocol, to_json
from gateway.security import ANONYMOUS, Principal
from gateway.session import Session


class HeldCall(Protocol):
    """A session a person holds, wherever its caller is connected."""

    session_id: str
    tenant: str

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """The session's events in their v1 wire form, until it ends."""
        ...

    async def say(self, text: str) -> None: ...

    async def release(self) -> None: ...


class LocalCall:
    """The caller is on this node."""

    def __init__(self, session: Session, desk: AgentDesk, agent_id: str) -> None:
        self.session, self.desk, self.agent_id = session, desk, agent_id
        self.session_id, self.tenant = session.session_id, session.request.tenant
        self._watcher = session.watch()

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            event = await self._watcher.get()
            with contextlib.suppress(TypeError):  # events with no wire form (none reach agents today)
                yield to_json(event)
            if isinstance(event, SessionEnded):
                return

    async def say(self, text: str) -> None:
        self.session.agent_say(self.agent_id, text)

    async def release(self) -> None:
        self.session.unwatch(self._watcher)
        await self.desk.release(self.session_id)


class RemoteCall:
    """The caller is on another node; its CallerRelay forwards events and the agent's words."""

    def __init__(self, remote: RemoteAgent, session_id: str, tenant: str) -> None:
        self.remote, self.session_id, self.tenant = remote, session_id, tenant

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.remote.events()

    async def say(self, text: str) -> None:
        await self.remote.say(text)

    async def release(self) -> None:
        await self.remote.release()


class AgentChannel:
    def __init__(self, ws: ServerConnection, gateway: Gateway, protocol: ServerProtocol, tenant: str,
                 principal: Principal = ANONYMOUS) -> None:
        self.ws = ws
        self.gateway = gateway
        self.protocol = protocol
        self.tenant = tenant  # authorised by the caller of this constructor (authorize_start)
        self.principal = principal
        # An authenticated agent is named by its credential; development mode gets a random name.
        self.agent_id = principal.subject if principal.method != "none" else f"agent-{uuid.uuid4().hex[:8]}"
        self.call: HeldCall | None = None
        self._forward: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(dumps_wire(message))  # valid UTF-8 whatever a caller typed

    async def run(self) -> None:
        await self.send({"type": "agent.ready", "agent_id": self.agent_id,
                         "node": self.gateway.cluster.node_id})
        try:
            await self._send_queue()
            async for message in self.ws:
                try:
                    if isinstance(message, bytes):
                        raise GatewayError("agents send text messages only", code="protocol-forbidden")
                    item = self.protocol.receive_text(message)
                    if isinstance(item, End):
                        break
                    await self._handle(item)
                except GatewayError as exc:
                    await self.send(to_json(ErrorEvent(exc.code, exc.message)))
        except ConnectionClosed:
            pass
        finally:
            await self._drop()

    async def _handle(self, item: object) -> None:
        if isinstance(item, AgentList):
            await self._send_queue()
        elif isinstance(item, AgentTake):
            if self.call is not None:
                raise GatewayError("release the current session first", code="agent-busy")
            await self._take(item.session_id)
        elif isinstance(item, AgentSay):
            if self.call is None:
                raise GatewayError("take a session first", code="agent-no-session")
            await self.call.say(item.text)
            await self.gateway.audit(self.principal, "say", self.call.session_id, self.call.tenant)
        elif isinstance(item, AgentRelease):
            await self._drop()
            await self._send_queue()

    async def _take(self, wanted: str | None) -> None:
        desk = self.gateway.agent_desk()
        # Only this agent's tenant's tickets are visible or claimable (the queue is per tenant).
        ticket = await desk.claim(self.tenant, self.agent_id, wanted)
        if ticket is None:
            raise GatewayError("no such session is waiting for a person", code="agent-nothing-waiting")
        sid = ticket.session_id
        call: HeldCall
        if ticket.node == desk.node_id:
            # desk.claim hands out a ticket of this node only while its session is live (it undoes
            # the claim of a caller who left), and nothing has awaited since.
            session = self.gateway.sessions[sid]
            call = LocalCall(session, desk, self.agent_id)
            language, channel = session.language, session.request.channel
            transcript = [asdict(r) for r in session.transcript]
        else:
            remote = RemoteAgent(self.gateway.cluster, self.agent_id, self.tenant)
            held = await remote.take(ticket.node, sid)  # GatewayError agent-session-gone if refused
            call = RemoteCall(remote, sid, self.tenant)
            language, channel, transcript = held["language"], held["channel"], held["transcript"]
        await self.gateway.audit(self.principal, "take", sid, ticket.tenant)
        await self.gateway.audit(self.principal, "read-transcript", sid, ticket.tenant)
        self.call = call
        self._forward = asyncio.create_task(self._relay(call))
        await self.send({"type": "agent.session", "session_id": sid, "node": ticket.node,
                         "reason": ticket.reason, "urgent": ticket.urgent, "package": dict(ticket.package),
                         "channel": channel, "language": language, "transcript": transcript})

    async def _relay(self, call: HeldCall) -> None:
        async for wire in call.events():
            await self.send({"type": "agent.event", "event": wire})
        # The caller hung up: nothing to release.
        if self.call is call:
            self.call = None
            await self._send_queue()

    async def _drop(self) -> None:
        if self._forward is not None:
            self._forward.cancel()
            await asyncio.gather(self._forward, return_exceptions=True)
            self._forward = None
        if self.call is not None:
            call, self.call = self.call, None
            await call.release()
            await self.gateway.audit(self.principal, "release", call.session_id, call.tenant)

    async def _send_queue(self) -> None:
        now = time.time()
        waiting = [{"session_id": t.session_id, "reason": t.reason, "urgent": t.urgent,
                    "waited_s": round(now - t.queued_at, 1), "node": t.node}
                   for t in await self.gateway.agent_desk().waiting(self.tenant)]
        await self.send({"type": "agent.queue", "waiting": waiting})
