"""The gateway process: settings, engines, conversation core, transcript store and live sessions.

`Gateway` is the SessionFactory every transport opens sessions through. It enforces the session
limits (a clear `busy` / `tenant-busy` instead of collapse) and the phone bridges' source
allow-list, registers live sessions in the cluster registry, and closes everything it started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import typing

from gateway.capacity import Capacity, CapacityMonitor, Sample, node_cores
from gateway.cluster import ClusterUnavailable, SessionLocation, open_cluster
from gateway.cluster.desk import AgentDesk
from gateway.cluster.handoff import CallerRelay
from gateway.config import Settings
from gateway.core.agents import AgentQueue
from gateway.core.api import ConversationCore
from gateway.core.messages import MESSAGES
from gateway.core.policies.pii import mask
from gateway.engines import Engines
from gateway.errors import GatewayError, LimitExceeded
from gateway.metrics import Metrics
from gateway.ports import SessionRequest
from gateway.security import AuditLog, AuthError, Principal, TenantSessions, check_source
from gateway.security.identifiers import new_session_id
from gateway.security.tenants import TenantSettings
from gateway.session import Session, SessionDeps
from gateway.session.runner import INBOX_SIZE
from gateway.store.transcripts import TranscriptStore, TranscriptWriter
from gateway.tracing import Tracing

log = logging.getLogger("gateway")
DEFAULT_TENANT = TenantSettings()  # a tenant without a table in tenants.file


def open_store(settings: Settings) -> TranscriptWriter:
    """SQLite by default; PostgreSQL behind a local journal when durable.backend = 'postgres'."""
    if settings.durable.backend == "postgres":
        from gateway.store.postgres import open_durable_store

        return open_durable_store(settings.durable, caller_pepper=settings.security.caller_pepper)
    return TranscriptStore(settings.store.path, caller_pepper=settings.security.caller_pepper)


class Gateway:
    def __init__(self, settings: Settings, *, core: ConversationCore | None = None,
                 engines: Engines | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.tracing = Tracing(settings.tracing)
        self.engines = engines or Engines(settings)
        self.store = open_store(settings)
        self.audit_log = AuditLog(self.store.audit)
        self.tenant_slots = TenantSessions(settings.security.max_sessions_per_tenant)
        self.tenants = settings.tenants.load()  # per-tenant caps, language, channels
        self.cluster = open_cluster(settings.cluster)
        self.core = core
        self.sessions: dict[str, Session] = {}
        self.desk: AgentDesk | None = None  # the agent queue across nodes (when the core has one)
        self._ready = False
        self._draining = False  # shutting down: no new sessions
        self._background: set[asyncio.Task[object]] = set()
        self._relay: asyncio.Task[None] | None = None
        self.capacity = Capacity(settings.admission, cores=node_cores(),
                                 max_sessions=settings.server.max_sessions)
        self.capacity_monitor = CapacityMonitor(self.capacity, self.read_capacity)
        self._watch_queues()
        self._watch_capacity()

    @property
    def ready(self) -> bool:
        return self._ready

    async def start(self, *, preload: bool = True) -> None:
        await self.store.start()
        await self.cluster.start()  # a node may start before Redis: the registry catches up
        if self.core is None:
            from gateway.core.build import build_core

            self.core = await asyncio.to_thread(build_core, self.settings.core)
        agents = getattr(self.core, "agents", None)
        if isinstance(agents, AgentQueue):
            self.desk = AgentDesk(self.cluster, agents, self.sessions, self._in_background)
            # Serves agents on other nodes who take this node's callers.
            relay = CallerRelay(self.cluster, self.sessions, self.desk.set_owner)
            self._relay = asyncio.create_task(relay.run(), name="caller-relay")
        if preload:
            # English sessions use tiny.en, "auto" and other languages the multilingual model.
            await asyncio.to_thread(self.engines.preload, ("en", "auto"))
            # The fixed prompts (hand-off, clarification, greeting lines) are voiced once, here.
            prompts = fixed_prompts(self.settings.voice.prompt_languages)
            await asyncio.to_thread(self.engines.warm_prompts, prompts)
            warm = getattr(self.core, "warm", None)  # the bundled core's sentence encoder
            if callable(warm):
                await asyncio.to_thread(warm)
        if self.settings.admission.mode == "adaptive":
            self.capacity_monitor.start()
        self._ready = True

    @staticmethod
    def _mask(text: str) -> str:
        return mask(text).text

    async def open(self, request: SessionRequest) -> Session:
        if not self._ready or self.core is None:
            raise LimitExceeded("the gateway is starting; try again shortly", code="busy")
        if self._draining:
            raise LimitExceeded("the gateway is shutting down; try again shortly", code="busy")
        if request.source is not None:  # a phone bridge (SIP, AudioSocket): allow-listed sources only
            check_source(request.source, self.settings.security)
        if len(self.sessions) >= self.settings.server.max_sessions:
            self.metrics.sessions_rejected.inc()
            raise LimitExceeded(f"all {self.settings.server.max_sessions} session slots are in use",
                                code="busy")
        if not self.capacity.admitting:  # refused before the admitted sessions degrade
            self.metrics.sessions_rejected.inc()
            raise LimitExceeded(f"this node is at capacity ({self.capacity.reason}); try again shortly",
                                code="busy")
        if not self.capacity.room_for(len(self.sessions)):  # a burst: refused before it speaks
            self.metrics.sessions_rejected.inc()
            raise LimitExceeded("this node is at capacity (predicted-load); try again shortly", code="busy")
        tenant = self.tenants.get(request.tenant, DEFAULT_TENANT)
        if tenant.channels and request.channel not in tenant.channels:
            raise AuthError(f"this tenant's sessions may use {list(tenant.channels)}, "
                            f"not {request.channel!r}", code="channel-forbidden")
        if request.language == "auto" and (tenant.language or self.settings.speech.language != "auto"):
            request = dataclasses.replace(request, language=tenant.language or self.settings.speech.language)
        cap = tenant.max_sessions or self.settings.security.max_sessions_per_tenant
        session_id = request.session_id or new_session_id()  # never a run the PII rules would mask
        if request.session_id is not None and session_id not in self.sessions:
            # Resuming a stored conversation: never into another tenant's.
            stored = await self.store.tenant_of(session_id)
            if stored is not None and stored != request.tenant:
                raise AuthError("that session belongs to another tenant", code="tenant-forbidden")
        live = self.sessions.get(session_id)  # checked after the await above: no await until taken
        if live is not None and live.request.tenant != request.tenant:  # never reveal it is live
            raise AuthError("that session belongs to another tenant", code="tenant-forbidden")
        if live is not None:
            raise LimitExceeded(f"session {session_id} is already live", code="session-in-use")
        location = SessionLocation(session_id, self.cluster.node_id, request.tenant, request.channel,
                                   time.time())
        self.tenant_slots.acquire(request.tenant, cap)  # this node's count: synchronous, never racy
        try:
            registered = await self._admit(location, cap)  # the tenant's count on all nodes
            if session_id in self.sessions:  # again: another open of this id may have run meanwhile
                raise LimitExceeded(f"session {session_id} is already live", code="session-in-use")
            conversation = self.core.open(session_id=session_id, channel=request.channel,
                                          language=request.language, tenant=request.tenant)
        except BaseException:
            self.tenant_slots.release(request.tenant)
            raise
        deps = SessionDeps(self.settings, self.engines, self.store, self.metrics, mask=self._mask,
                           tracing=self.tracing)
        session = Session(session_id, request, conversation, deps)
        self.sessions[session_id] = session
        if not registered:
            self._in_background(self.cluster.register(location))
        self.metrics.sessions_active.labels(request.channel).inc()
        self.metrics.sessions_total.labels(request.channel).inc()
        session.start()
        assert session._runner is not None
        session._runner.add_done_callback(lambda _: self._forget(session))
        return session

    async def _admit(self, location: SessionLocation, cap: int) -> bool:
        """Applies the tenant's session cap across the nodes sharing the cluster; True when that
        also registered the session. With Redis away the cap holds per node only."""
        if not cap:
            return False
        try:
            admitted = await self.cluster.admit(location, cap)
        except ClusterUnavailable as exc:
            log.info("tenant cap checked on this node only: %s", exc.message)
            return False
        if not admitted:
            raise LimitExceeded(f"tenant {location.tenant[:64]!r} has all {cap} session slots in use "
                                "across the gateway nodes", code="tenant-busy")
        return True

    def _watch_queues(self) -> None:
        depth = self.metrics.queue_depth

        def sessions(index: int) -> float:
            return float(sum(s.queue_depths[index] for s in list(self.sessions.values())))

        depth.labels("session-inbox").set_function(lambda: sessions(0))
        depth.labels("session-outbox").set_function(lambda: sessions(1))
        depth.labels("store-backlog").set_function(lambda: float(getattr(self.store, "backlog", 0)))
        depth.labels("agent-queue").set_function(lambda: float(len(self.desk.queue) if self.desk else 0))
        m = self.metrics
        m.store_up.set_function(lambda: float(self.store_state() == "ok"))
        for gauge, name in ((m.store_dead_letters, "dead_letters"), (m.store_dropped, "dropped"),
                            (m.store_writer_restarts, "writer_restarts")):
            gauge.set_function(lambda name=name: float(getattr(self.store, name, 0)))  # type: ignore[misc]

    def read_capacity(self, now: float, loop_lag_ms: float) -> Sample:
        """One load sample for the admission decision (the monitor measures the loop lag)."""
        depths = [s.queue_depths[0] for s in list(self.sessions.values())]
        return Sample(now, time.process_time(), loop_lag_ms, inbox=max(depths, default=0) / INBOX_SIZE,
                      inbox_total=sum(depths), engine_backlog=int(getattr(self.engines, "waiting", 0)),
                      engine_wait_ms=self._engine_wait_s() * 1000.0, sessions=len(self.sessions))

    def _engine_wait_s(self) -> float:
        take = getattr(self.engines, "take_max_wait", None)  # a test double may have none
        return float(take()) if callable(take) else 0.0

    @property
    def admitting(self) -> bool:
        """Whether a new session would be admitted now (tenant caps aside)."""
        return (self._ready and not self._draining and self.capacity.admitting
                and self.capacity.room_for(len(self.sessions))
                and len(self.sessions) < self.settings.server.max_sessions)

    def _watch_capacity(self) -> None:
        m, capacity = self.metrics, self.capacity
        m.admitting.set_function(lambda: float(self.admitting))
        m.headroom.set_function(lambda: capacity.headroom(len(self.sessions)) if self.admitting else 0.0)
        m.cpu_share.set_function(lambda: capacity.cpu)
        m.loop_lag.set_function(lambda: capacity.last.loop_lag_ms / 1000.0)
        m.engine_backlog.set_function(lambda: float(getattr(self.engines, "waiting", 0)))
        m.session_cost.set_function(lambda: capacity.session_cost)
        m.predicted_load.set_function(lambda: capacity.predicted(len(self.sessions)))
        m.asr_utterances.set_function(lambda: float(self.engines.asr_work()[0]))
        m.asr_calls.set_function(lambda: float(self.engines.asr_work()[1]))
        cache = self.engines.clause_cache
        m.tts_cache_hits.set_function(lambda: float(cache.hits))
        m.tts_cache_misses.set_function(lambda: float(cache.misses))
        m.tts_cache_bytes.set_function(lambda: float(cache.bytes))

    def store_state(self) -> str:
        """ok | degraded | stopped (a store without a state, a test double say, counts as ok)."""
        return str(getattr(self.store, "state", "ok"))

    def agent_desk(self) -> AgentDesk:
        if self.desk is None:
            raise GatewayError("this gateway's core has no agent queue", code="agent-unavailable")
        return self.desk

    async def audit(self, principal: Principal, action: str, session_id: str, tenant: str) -> None:
        """Who looked at or took over which caller's conversation, and when (log and store)."""
        await self.audit_log.record(principal, action, session_id, tenant)

    def health(self) -> dict[str, object]:
        """status: starting | ok | degraded (the store is failing: records wait in its journal) |
        draining (shutting down: no new sessions)."""
        backlog = getattr(self.store, "backlog", 0)
        store_status = getattr(self.store, "status", None)
        store = store_status() if callable(store_status) else {"state": self.store_state()}
        if self._draining:
            status = "draining"
        elif not self._ready:
            status = "starting"
        else:
            status = "ok" if store["state"] == "ok" else "degraded"
        capacity = self.capacity.status(len(self.sessions))
        if not self.admitting:
            capacity["state"] = "busy"
            capacity["headroom"] = 0.0
        return {"status": status, "sessions": len(self.sessions), "store_backlog": backlog,
                "store": store, "cluster": self.cluster.available, "capacity": capacity}

    @property
    def serving(self) -> bool:
        """/ready: started, not draining, and the store writing normally."""
        return self._ready and not self._draining and self.store_state() == "ok"

    def begin_drain(self) -> None:
        """Stops admitting sessions (new ones get `busy`); live ones go on until they end."""
        self._draining = True

    async def drain(self, grace_s: float) -> int:
        """Stops admitting and waits up to `grace_s` for the live sessions to end; returns how many
        are still live (gateway.aclose then closes them with reason `gateway-shutdown`)."""
        self.begin_drain()
        runners = [s._runner for s in list(self.sessions.values()) if s._runner is not None]
        if runners and grace_s > 0:
            await asyncio.wait(runners, timeout=grace_s)
        await asyncio.sleep(0)  # the runners' done callbacks (_forget) run
        return len(self.sessions)

    def _in_background(self, work: typing.Awaitable[object]) -> None:
        async def run() -> object:
            try:
                return await work
            except ClusterUnavailable as exc:  # best effort: the registry heartbeat repairs it
                log.info("cluster registry: %s", exc.message)
                return None

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget(self, session: Session) -> None:
        if self.sessions.pop(session.session_id, None) is not None:
            self.metrics.sessions_active.labels(session.request.channel).dec()
            self.tenant_slots.release(session.request.tenant)
            self._in_background(self.cluster.unregister(session.session_id))
            if self.desk is not None:
                self._in_background(self.desk.cancel(session.request.tenant, session.session_id))

    async def close_sessions(self, timeout_s: float = 10.0) -> None:
        """Ends every live session (reason `gateway-shutdown`); one that cannot finish within the
        timeout (a consumer that never reads, say) is cancelled, which still stores its end."""
        self._draining = True
        sessions = list(self.sessions.values())
        closing = [asyncio.ensure_future(s.close("gateway-shutdown")) for s in sessions]
        if closing:
            _, stuck = await asyncio.wait(closing, timeout=timeout_s)
            if stuck:
                log.warning("%d sessions did not close within %.0f s; cancelled", len(stuck), timeout_s)
                for task in stuck:
                    task.cancel()
                for session in sessions:
                    if session._runner is not None and not session._runner.done():
                        session._runner.cancel()
                runners = [s._runner for s in sessions if s._runner is not None]
                await asyncio.wait([*closing, *runners], timeout=2.0)

    async def aclose(self) -> None:
        self._ready = False
        await self.capacity_monitor.aclose()
        await self.close_sessions()
        if self._relay is not None:
            self._relay.cancel()
            await asyncio.gather(self._relay, return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.cluster.aclose()
        if self.core is not None:
            await self.core.aclose()
        await self.store.aclose()
        await asyncio.to_thread(self.engines.close)
        await self.tracing.aclose()  # flushes queued spans (off the loop, bounded by the export timeout)


def fixed_prompts(languages: tuple[str, ...]) -> dict[str, list[str]]:
    """What the core says word for word (no values filled in), per language: voiced at start-up."""
    return {language: [table[language] for table in MESSAGES.values()
                       if language in table and "{" not in table[language]] for language in languages}
