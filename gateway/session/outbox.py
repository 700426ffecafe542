"""A session's outbound events: one bounded queue for its channel, bounded copies for watchers.

Reply audio of a turn the caller cut is dropped here too if it was queued before the cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from gateway.events import CANCELLABLE, ReplyAudio, SessionEnded, SessionEvent

OUTBOX_SIZE = 2000


class Outbox:
    def __init__(self, is_cancelled: Callable[[int], bool], on_drop: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[SessionEvent] = asyncio.Queue(OUTBOX_SIZE)
        self._is_cancelled = is_cancelled
        self._on_drop = on_drop
        self._watchers: list[asyncio.Queue[SessionEvent]] = []

    def qsize(self) -> int:
        return self._queue.qsize()

    async def put(self, event: SessionEvent) -> None:
        await self._queue.put(event)
        self._to_watchers(event)

    def put_nowait(self, event: SessionEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:  # consumer gone or stalled: the event is only lost to the wire
            self._on_drop()
        self._to_watchers(event)

    async def events(self) -> AsyncIterator[SessionEvent]:
        while True:
            event = await self._queue.get()
            if isinstance(event, CANCELLABLE) and self._is_cancelled(event.turn_id):
                continue
            yield event
            if isinstance(event, SessionEnded):
                return

    def watch(self, maxsize: int = 500) -> asyncio.Queue[SessionEvent]:
        """A copy of the events (not the audio) for a person watching (an agent). Bounded: a
        watcher that stops reading loses events, never the session."""
        queue: asyncio.Queue[SessionEvent] = asyncio.Queue(maxsize)
        self._watchers.append(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[SessionEvent]) -> None:
        if queue in self._watchers:
            self._watchers.remove(queue)

    def _to_watchers(self, event: SessionEvent) -> None:
        if isinstance(event, ReplyAudio):
            return
        for queue in self._watchers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)
