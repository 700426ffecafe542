"""Readings prepared while the caller may still be talking.

At a pause whose words sound finished, the session asks the conversation to prepare
(`CoreConversation.prepare`). Of a turn's work, understanding it (one sentence embedding and the
intent classifier; with an LLM intent picker, possibly one pick call) is the costly part, and it is
pure: it depends on the words alone and changes no dialog state, records nothing, acts on nothing.
So it starts in the pause, keyed by the exact masked text and language. When the turn ends on those
words, respond() awaits that same work instead of starting it after the caller has finished; when
the caller goes on, the entry is simply never used. Everything stateful (dialog state, actions,
verification, records, the reply itself) still waits for the confirmed turn.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from gateway.core.nlu.understand import Reading

Key = tuple[str, str]  # (masked text, language)


def _retrieve(task: asyncio.Task[Reading]) -> None:
    if not task.cancelled():
        task.exception()  # a failed read nobody awaits any more is not logged as "never retrieved"


class ReadingMemo:
    """A few readings by their exact words, in flight or done. Bounded: the oldest entry goes
    first (its read, if still running, runs to its end on the worker thread; nobody waits on it)."""

    def __init__(self, read: Callable[[str, str], Reading], size: int = 4) -> None:
        self._read = read
        self._size = size
        self._tasks: OrderedDict[Key, asyncio.Task[Reading]] = OrderedDict()

    def has(self, key: Key) -> bool:
        """A reading of these words was started (and did not fail): respond() will not read again."""
        task = self._tasks.get(key)
        return task is not None and not _failed(task)

    async def read(self, key: Key) -> Reading:
        """The reading of these words: the prepared one when there is one, else read now.
        A caller cancelled while waiting (a barge-in) leaves the read itself running for others."""
        task = self._tasks.get(key)
        if task is None or _failed(task):
            task = asyncio.ensure_future(asyncio.to_thread(self._read, *key))
            task.add_done_callback(_retrieve)
            self._tasks[key] = task
            while len(self._tasks) > self._size:
                self._tasks.popitem(last=False)
        else:
            self._tasks.move_to_end(key)
        return await asyncio.shield(task)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()


def _failed(task: asyncio.Task[Reading]) -> bool:
    return task.cancelled() or (task.done() and task.exception() is not None)
