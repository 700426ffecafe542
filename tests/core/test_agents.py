from __future__ import annotations

import asyncio

import pytest

from gateway.core.agents import AgentQueue, Ticket
from gateway.errors import LimitExceeded


async def test_urgent_first_and_bounded() -> None:
    queue = AgentQueue(maxsize=2)
    assert queue.enqueue(Ticket("a", "caller-request", False)) == 1
    assert queue.enqueue(Ticket("b", "emergency", True)) == 1
    assert queue.enqueue(Ticket("a", "caller-request", False)) == 2  # queued once
    with pytest.raises(LimitExceeded) as info:
        queue.enqueue(Ticket("c", "frustration", False))
    assert info.value.code == "agent-queue-full"
    first = queue.claim("agent-1")
    assert first is not None and first.session_id == "b" and queue.owner("b") == "agent-1"
    queue.release("b")
    assert queue.owner("b") is None
    assert queue.claim_session("agent-2", "missing") is None
    taken = queue.claim_session("agent-2", "a")
    assert taken is not None and taken.session_id == "a" and queue.owner("a") == "agent-2"
    assert len(queue) == 0 and queue.claim("agent-3") is None


async def test_agent_waits_for_next_ticket() -> None:
    queue = AgentQueue()
    waiter = asyncio.create_task(queue.next("agent-1", wait_s=2.0))
    await asyncio.sleep(0.01)
    queue.enqueue(Ticket("s1", "caller-request", False, {"summary": "x"}))
    ticket = await waiter
    assert ticket is not None and ticket.package["summary"] == "x"
    assert await queue.next("agent-1", wait_s=0.05) is None
