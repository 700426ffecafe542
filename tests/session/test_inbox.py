"""The session inbox is bounded, and the end of the session always gets through it."""

from __future__ import annotations

import asyncio

from gateway.session.inbox import Inbox


async def test_a_full_inbox_drops_input_but_keeps_the_end_after_what_was_queued() -> None:
    inbox: Inbox[str] = Inbox(3)
    assert all(inbox.put(x) for x in ("a", "b", "c"))
    assert not inbox.put("d")  # full: dropped
    inbox.put_end("end")
    inbox.put_end("second end")  # the first end wins
    got = [await asyncio.wait_for(inbox.get(), 1) for _ in range(4)]
    assert got == ["a", "b", "c", "end"]


async def test_an_end_with_room_is_queued_in_order() -> None:
    inbox: Inbox[str] = Inbox(3)
    inbox.put("a")
    inbox.put_end("end")
    assert [await inbox.get(), await inbox.get()] == ["a", "end"]
    assert inbox.qsize() == 0
