"""The audit trail of agent access to callers' conversations: who, when, what, which session.

Each record goes to the `gateway.audit` logger as one JSON line and, when a sink is given (the
durable store's `audit` method), into the store's `audit` table.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from gateway.security.auth import Principal

ACTIONS = ("list", "take", "read-transcript", "say", "release", "forget")
log = logging.getLogger("gateway.audit")


@dataclass(frozen=True)
class AuditRecord:
    at: float
    subject: str
    role: str
    tenant: str  # the tenant of the session touched
    action: str
    session_id: str


AuditSink = Callable[[AuditRecord], Awaitable[None]]


class AuditLog:
    def __init__(self, sink: AuditSink | None = None) -> None:
        self._sink = sink

    async def record(self, principal: Principal, action: str, session_id: str, tenant: str, *,
                     at: float | None = None) -> AuditRecord:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        entry = AuditRecord(time.time() if at is None else at, principal.subject, principal.role,
                            tenant, action, session_id)
        log.info("%s", json.dumps(asdict(entry), sort_keys=True))
        if self._sink is not None:
            await self._sink(entry)
        return entry
