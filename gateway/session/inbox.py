"""The session's bounded inbox: caller input waits here for the machine, in order.

Bounded so a flood cannot grow memory; the overflow policy is the caller's (drop with an error).
The end of the session is the one input that is never dropped: a caller who hangs up while the
inbox is full must still end the session (else it holds its slot until the idle timeout). It is
kept aside and handed out once everything queued before it has been taken.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue(size)
        self._end: T | None = None

    def put(self, item: T) -> bool:
        """Queues an item; False when the inbox is full (the item is dropped)."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def put_end(self, item: T) -> None:
        """Queues the end; when the inbox is full it is kept aside instead (the first end wins)."""
        if not self.put(item) and self._end is None:
            self._end = item

    async def get(self) -> T:
        # The end is set aside only while the queue is full, so once the queue has been drained
        # it is handed out here, before the loop could wait on an empty queue.
        if self._end is not None and self._queue.empty():
            item, self._end = self._end, None
            return item
        return await self._queue.get()

    def qsize(self) -> int:
        return self._queue.qsize()
