from __future__ import annotations

import pytest

from gateway.errors import LimitExceeded
from gateway.security import ConnectionLimiter, TenantSessions, TokenBucket


def test_bucket_refills_with_time() -> None:
    bucket = TokenBucket(rate=10, capacity=20)
    assert all(bucket.take(1, now=0.0) for _ in range(20))
    assert not bucket.take(1, now=0.0)
    assert bucket.take(5, now=0.5) and not bucket.take(1, now=0.5)
    assert bucket.take(20, now=100.0) and not bucket.take(1, now=100.0)  # capped at capacity
    assert not bucket.take(1, now=50.0)  # a clock going backwards earns nothing


def test_audio_rate_passes_and_a_flood_is_refused() -> None:
    limiter = ConnectionLimiter(messages_per_s=200, bytes_per_s=4_000_000)
    for i in range(50 * 60):  # a minute of 20 ms frames of 16 kHz pcm16
        limiter.check(640, now=i * 0.02)
    with pytest.raises(LimitExceeded) as err:
        for _ in range(2000):
            limiter.check(10, now=60.0)
    assert err.value.code == "rate-limited" and limiter.refused == 1


def test_byte_rate() -> None:
    limiter = ConnectionLimiter(messages_per_s=200, bytes_per_s=1_000_000)
    limiter.check(4_000_000, now=0.0)  # one burst-sized screenshot
    with pytest.raises(LimitExceeded):
        limiter.check(600_000, now=0.5)
    limiter.check(600_000, now=1.0)


def test_tenant_sessions() -> None:
    slots = TenantSessions(limit=2)
    slots.acquire("a")
    slots.acquire("a")
    slots.acquire("b")
    with pytest.raises(LimitExceeded) as err:
        slots.acquire("a")
    assert err.value.code == "tenant-busy"
    slots.release("a")
    slots.acquire("a")
    slots.release("b")
    assert slots.live == {"a": 2}
    unlimited = TenantSessions(limit=0)
    for _ in range(1000):
        unlimited.acquire("a")
