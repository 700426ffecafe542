"""Calls to the declared backends: async HTTP, timeouts, retries for reads, a breaker per integration.

One httpx.AsyncClient per core with a bounded connection pool, so a slow backend cannot pile up
sockets and nothing blocks the event loop. Only idempotent reads (GET, `changes: false`) are
retried; a call that changes something is sent once, since a timeout does not say whether it was
applied. After `breaker.failures` consecutive failures an integration's circuit opens: calls fail
at once (the caller is not kept waiting on a service known to be down) until `reset_s` has passed,
then one trial call decides. What is recorded is the outcome, status and latency, never a payload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from gateway.core.actions.declarations import Action, ActionCatalog, Breaker

# ok | not-found | http-4xx | http-5xx | timeout | unreachable | bad-json | bad-response | circuit-open
FAILURES = ("http-4xx", "http-5xx", "timeout", "unreachable", "bad-json", "bad-response", "circuit-open")
RETRY_BACKOFF_S = 0.2
log = logging.getLogger("gateway.actions")


@dataclass(frozen=True)
class CallResult:
    action: str
    integration: str
    outcome: str
    status: int = 0
    latency_ms: float = 0.0
    attempts: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)  # the result; never recorded or logged

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def record(self) -> dict[str, object]:
        """What goes into the trace/records: no payload."""
        return {"action": self.action, "integration": self.integration, "outcome": self.outcome,
                "status": self.status, "latency_ms": round(self.latency_ms, 1), "attempts": self.attempts}


class CircuitBreaker:
    """closed -> (failures in a row) -> open -> (reset_s) -> half-open: one trial call decides."""

    def __init__(self, settings: Breaker, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self._clock = settings, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.settings.reset_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True  # one trial call at a time
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.opened_at is not None or self.failures >= self.settings.failures:
            self.opened_at = self._clock()


class ActionClient:
    """Shared by every conversation of a core; close it with aclose()."""

    def __init__(self, catalog: ActionCatalog, *, max_connections: int = 16,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.catalog = catalog
        self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=max_connections,
                                                           max_keepalive_connections=max_connections // 2),
                                       follow_redirects=False)
        self.breakers = {name: CircuitBreaker(i.breaker, clock) for name, i in catalog.integrations.items()}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, action: Action, values: Mapping[str, str]) -> CallResult:
        integration = self.catalog.integrations[action.integration]
        breaker = self.breakers[action.integration]
        started = time.perf_counter()

        def result(outcome: str, status: int = 0, attempts: int = 0,
                   data: Mapping[str, Any] | None = None) -> CallResult:
            return CallResult(action.name, action.integration, outcome, status,
                              (time.perf_counter() - started) * 1000, attempts, data or {})

        if not breaker.allow():
            log.warning("action %s integration=%s outcome=circuit-open", action.name, action.integration)
            return result("circuit-open")
        path_names = {p.name for p in action.parameters if "{" + p.name + "}" in action.path}
        url = integration.base_url + action.path.format(
            **{k: quote(str(values.get(k, "")), safe="") for k in path_names})
        rest = {k: v for k, v in values.items() if k not in path_names}
        tries = 1 + (integration.retries if action.idempotent else 0)
        outcome, status = "unreachable", 0
        for attempt in range(1, tries + 1):
            outcome, status, data = await self._once(action, url, rest, integration.headers,
                                                     integration.timeout_s, integration.max_response_bytes)
            if outcome in ("ok", "not-found", "http-4xx", "bad-json", "bad-response"):
                break  # an answer, or one that a retry would not change
            if attempt < tries:
                await asyncio.sleep(RETRY_BACKOFF_S * attempt)
        if outcome in ("ok", "not-found", "http-4xx"):
            breaker.success()  # the service answered; a 4xx is about the request
        else:
            breaker.failure()
        done = result(outcome, status, attempt, data if outcome == "ok" else None)
        log.info("action %s integration=%s outcome=%s status=%s attempts=%d latency_ms=%.1f breaker=%s",
                 action.name, action.integration, outcome, status, attempt, done.latency_ms, breaker.state)
        return done  # (the log line has no payload, no parameter values: they may be personal)

    async def _once(self, action: Action, url: str, rest: Mapping[str, str], headers: Mapping[str, str],
                    timeout_s: float, max_bytes: int) -> tuple[str, int, dict[str, Any]]:
        query = action.method in ("GET", "DELETE")
        kwargs: dict[str, Any] = {"params": dict(rest)} if query else {"json": dict(rest)}
        try:
            async with asyncio.timeout(timeout_s):  # the whole call, slow bodies included
                async with self._http.stream(action.method, url, headers=dict(headers),
                                             timeout=timeout_s, **kwargs) as response:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            return "bad-response", response.status_code, {}
                    status = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return "timeout", 0, {}
        except httpx.HTTPError:
            return "unreachable", 0, {}
        if status == 404:
            return "not-found", status, {}
        if 400 <= status < 500:
            return "http-4xx", status, {}
        if status >= 500:
            return "http-5xx", status, {}
        if status >= 300:  # redirects are not followed: a backend that moved is misconfigured
            return "bad-response", status, {}
        try:
            data = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError):
            return "bad-json", status, {}
        if not isinstance(data, dict):
            return "bad-json", status, {}
        missing = [f.name for f in action.result if f.name not in data]
        if missing:
            return "bad-response", status, {}
        return "ok", status, data
