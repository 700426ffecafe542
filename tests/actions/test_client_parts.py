"""The circuit breaker, spoken numbers and dates: pure parts, no network."""

from __future__ import annotations

import datetime as dt

from gateway.core.actions.client import CircuitBreaker
from gateway.core.actions.declarations import Breaker
from gateway.core.actions.templates import spoken_date, spoken_money, spoken_number


def test_the_breaker_opens_after_failures_and_one_trial_decides() -> None:
    now = [0.0]
    breaker = CircuitBreaker(Breaker(failures=2, reset_s=10), clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow() and not breaker.allow()  # one trial call at a time
    breaker.failure()  # the trial failed: open again for reset_s
    assert not breaker.allow()
    now[0] = 20.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_numbers_and_dates_are_said_naturally() -> None:
    today = dt.date(2024, 5, 14)
    assert spoken_date("2024-05-16", "en", weekday=True, today=today) == "Thursday, May 16"
    assert spoken_date("2024-05-16", "zh", weekday=True, today=today) == "5月16日（星期四）"
    assert spoken_date("2023-12-01", "en", today=today) == "December 1, 2023"
    assert spoken_date("2023-12-01", "zh", today=today) == "2023年12月1日"
    assert spoken_number(3, "en") == "three" and spoken_number(3, "zh") == "三"
    assert spoken_number(25, "zh") == "二十五" and spoken_number(12, "zh") == "十二"
    assert spoken_number(1234, "en") == "1,234"
    assert spoken_money(50, "en") == "$50.00" and spoken_money(1234.5, "zh") == "1,234.50元"
