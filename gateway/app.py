"""The gateway process: settings, engines, conversation core, transcript store and live sessions.

`Gateway` is the SessionFactory every transport opens sessions through. It enforces the session
limit (a clear `busy` instead of collapse) and closes everything it started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid

from gateway.config import Settings
from gateway.core.agents import AgentQueue
from gateway.core.api import ConversationCore
from gateway.core.policies.pii import mask
from gateway.engines import Engines
from gateway.errors import GatewayError, LimitExceeded
from gateway.metrics import Metrics
from gateway.ports import SessionRequest
from gateway.session import Session, SessionDeps
from gateway.store.transcripts import TranscriptStore

log = logging.getLogger("gateway")
audit_log = logging.getLogger("gateway.audit")


class Gateway:
    def __init__(self, settings: Settings, *, core: ConversationCore | None = None,
                 engines: Engines | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.engines = engines or Engines(settings)
        self.store = TranscriptStore(settings.store.path)
        self.core = core
        self.sessions: dict[str, Session] = {}
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    async def start(self, *, preload: bool = True) -> None:
        await self.store.start()
        if self.core is None:
            from gateway.core.build import build_core

            self.core = await asyncio.to_thread(build_core, self.settings.core)
        if preload:
            # English sessions use tiny.en, "auto" and other languages the multilingual model.
            await asyncio.to_thread(self.engines.preload, ("en", "auto"))
        self._ready = True

    @staticmethod
    def _mask(text: str) -> str:
        return mask(text).text

    async def open(self, request: SessionRequest) -> Session:
        if not self._ready or self.core is None:
            raise LimitExceeded("the gateway is starting; try again shortly", code="busy")
        if len(self.sessions) >= self.settings.server.max_sessions:
            self.metrics.sessions_rejected.inc()
            raise LimitExceeded(f"all {self.settings.server.max_sessions} session slots are in use",
                                code="busy")
        if request.language == "auto" and self.settings.speech.language != "auto":
            request = dataclasses.replace(request, language=self.settings.speech.language)
        session_id = request.session_id or uuid.uuid4().hex
        if session_id in self.sessions:
            raise LimitExceeded(f"session {session_id} is already live", code="session-in-use")
        conversation = self.core.open(session_id=session_id, channel=request.channel,
                                      language=request.language, tenant=request.tenant)
        deps = SessionDeps(self.settings, self.engines, self.store, self.metrics, mask=self._mask)
        session = Session(session_id, request, conversation, deps)
        self.sessions[session_id] = session
        self.metrics.sessions_active.labels(request.channel).inc()
        self.metrics.sessions_total.labels(request.channel).inc()
        session.start()
        assert session._runner is not None
        session._runner.add_done_callback(lambda _: self._forget(session))
        return session

    def agent_queue(self) -> AgentQueue:
        agents = getattr(self.core, "agents", None)
        if not isinstance(agents, AgentQueue):
            raise GatewayError("this gateway's core has no agent queue", code="agent-unavailable")
        return agents

    def audit(self, agent_id: str, action: str, session_id: str) -> None:
        """Who looked at or took over which caller's conversation, and when."""
        audit_log.info("agent=%s action=%s session=%s", agent_id, action, session_id)

    def _forget(self, session: Session) -> None:
        if self.sessions.pop(session.session_id, None) is not None:
            self.metrics.sessions_active.labels(session.request.channel).dec()

    async def aclose(self) -> None:
        self._ready = False
        await asyncio.gather(*(s.close("gateway-shutdown") for s in list(self.sessions.values())),
                             return_exceptions=True)
        if self.core is not None:
            await self.core.aclose()
        await self.store.aclose()
        await asyncio.to_thread(self.engines.close)
