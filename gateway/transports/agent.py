"""The agent role on the WebSocket protocol: a person takes a waiting call over.

An agent connection lists the queue, takes a session (urgent first), receives its context
package and the transcript so far, then every event of that session live (`agent.event`), and
speaks to the caller with `agent.say` (voiced in the session's language and stored as the
agent's turn). While a person owns the session the bot stays silent; `agent.release` gives it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import asdict
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.app import Gateway
from gateway.errors import GatewayError
from gateway.events import ErrorEvent, SessionEnded, SessionEvent
from gateway.inputs import End
from gateway.protocol.ws_v1 import AgentList, AgentRelease, AgentSay, AgentTake, ServerProtocol, to_json
from gateway.security import ANONYMOUS, Principal
from gateway.session import Session


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
        self.session: Session | None = None
        self._forward: asyncio.Task[None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message, ensure_ascii=False))

    async def run(self) -> None:
        await self.send({"type": "agent.ready", "agent_id": self.agent_id})
        await self._send_queue()
        try:
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
        queue = self.gateway.agent_queue()
        if isinstance(item, AgentList):
            await self._send_queue()
        elif isinstance(item, AgentTake):
            if self.session is not None:
                raise GatewayError("release the current session first", code="agent-busy")
            # Only this agent's tenant's sessions are visible or claimable.
            wanted = item.session_id or next(
                (t.session_id for t in queue.waiting() if self._ours(t.session_id)), None)
            ticket = queue.claim_session(self.agent_id, wanted) if wanted and self._ours(wanted) else None
            if ticket is None:
                raise GatewayError("no such session is waiting for a person", code="agent-nothing-waiting")
            session = self.gateway.sessions.get(ticket.session_id)
            if session is None:
                queue.release(ticket.session_id)
                raise GatewayError("that session has ended", code="agent-session-gone")
            await self.gateway.audit(self.principal, "take", session)
            await self.gateway.audit(self.principal, "read-transcript", session)
            self.session = session
            watcher = session.watch()
            self._forward = asyncio.create_task(self._relay(watcher))
            await self.send({"type": "agent.session", "session_id": session.session_id,
                             "reason": ticket.reason, "urgent": ticket.urgent,
                             "package": dict(ticket.package),
                             "channel": session.request.channel, "language": session.language,
                             "transcript": [asdict(r) for r in session.transcript]})
        elif isinstance(item, AgentSay):
            if self.session is None:
                raise GatewayError("take a session first", code="agent-no-session")
            self.session.agent_say(self.agent_id, item.text)
            await self.gateway.audit(self.principal, "say", self.session)
        elif isinstance(item, AgentRelease):
            await self._drop()
            await self._send_queue()

    async def _relay(self, watcher: asyncio.Queue[SessionEvent]) -> None:
        while True:
            event = await watcher.get()
            with contextlib.suppress(TypeError):
                await self.send({"type": "agent.event", "event": to_json(event)})
            if isinstance(event, SessionEnded):
                self.session = None
                await self._send_queue()
                return

    async def _drop(self) -> None:
        if self._forward is not None:
            self._forward.cancel()
            await asyncio.gather(self._forward, return_exceptions=True)
            self._forward = None
        if self.session is not None:
            session, self.session = self.session, None
            self.gateway.agent_queue().release(session.session_id)
            await self.gateway.audit(self.principal, "release", session)

    def _ours(self, session_id: str) -> bool:
        session = self.gateway.sessions.get(session_id)
        return session is not None and session.request.tenant == self.tenant

    async def _send_queue(self) -> None:
        now = time.monotonic()
        waiting = [{"session_id": t.session_id, "reason": t.reason, "urgent": t.urgent,
                    "waited_s": round(now - t.queued_at, 1)}
                   for t in self.gateway.agent_queue().waiting() if self._ours(t.session_id)]
        await self.send({"type": "agent.queue", "waiting": waiting})
