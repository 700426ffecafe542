"""Rate and concurrency limits: pure bookkeeping, the caller passes the clock.

`ConnectionLimiter` caps one connection's messages and bytes per second (token buckets with a
burst of `burst_s` seconds' worth); overflow is LimitExceeded `rate-limited`, which the transport
turns into an error event and drops that message (the session lives). `TenantSessions` caps live
sessions per tenant (`tenant-busy`, the per-tenant form of `busy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.errors import LimitExceeded


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0  # -1: full on first use
    stamp: float | None = None

    def take(self, amount: float, now: float) -> bool:
        if self.tokens < 0:
            self.tokens = self.capacity
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now if self.stamp is None else max(self.stamp, now)
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


class ConnectionLimiter:
    def __init__(self, messages_per_s: float, bytes_per_s: float, *, burst_s: float = 4.0) -> None:
        self.messages = TokenBucket(messages_per_s, messages_per_s * burst_s)
        self.bytes = TokenBucket(bytes_per_s, bytes_per_s * burst_s)
        self.refused = 0

    def check(self, size: int, now: float) -> None:
        if not self.messages.take(1, now):
            self.refused += 1
            raise LimitExceeded(f"more than {self.messages.rate:g} messages per second", code="rate-limited")
        if not self.bytes.take(size, now):
            self.refused += 1
            raise LimitExceeded(f"more than {self.bytes.rate:g} bytes per second", code="rate-limited")


@dataclass
class TenantSessions:
    limit: int  # 0 = no per-tenant cap
    live: dict[str, int] = field(default_factory=dict)

    def acquire(self, tenant: str, limit: int | None = None) -> None:
        """`limit`: this tenant's own cap (tenants.file) instead of the default one."""
        limit = self.limit if limit is None else limit
        count = self.live.get(tenant, 0)
        if limit and count >= limit:
            raise LimitExceeded(f"tenant {tenant[:64]!r} has all {limit} session slots in use",
                                code="tenant-busy")
        self.live[tenant] = count + 1

    def release(self, tenant: str) -> None:
        count = self.live.get(tenant, 0) - 1
        if count > 0:
            self.live[tenant] = count
        else:
            self.live.pop(tenant, None)
