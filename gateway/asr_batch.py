"""ASR calls of many sessions decoded together: while one batch runs on the engine, the calls that
arrive wait and go into the next one (up to `max_batch`), so nothing waits for a batch to fill and
a loaded node decodes several utterances per encoder/decoder call (measured on tiny.en: four
utterances in one call take about a third less CPU than four calls; docs/benchmarks.md).

The engine's `transcribe_batch` decides what can share a call (models/asr_faster_whisper.py) and
returns each item's result or its own error; a failure of the whole call reaches every caller in
the batch. A caller who is cancelled before its batch starts is left out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from models.base import Float32Audio, Transcript

Item = tuple[Float32Audio, str | None, str | None]  # audio, language (None: detect), prompt


@runtime_checkable
class BatchTranscriber(Protocol):
    def transcribe_batch(self, items: Sequence[Item]) -> list[Transcript | Exception]: ...


Run = Callable[[Callable[[], list[Transcript | Exception]]], Awaitable[list[Transcript | Exception]]]


class AsrBatcher:
    def __init__(self, engine: BatchTranscriber, run: Run, *, max_batch: int,
                 waited: Callable[[float], None]) -> None:
        """`run` executes a blocking call on the engine (off the loop, one at a time); `waited`
        is told how long each item waited for its batch (the admission probe's engine wait)."""
        self.engine = engine
        self._run = run
        self._max = max(1, max_batch)
        self._waited = waited
        self._pending: list[tuple[Item, float, asyncio.Future[Transcript]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # engine calls made
        self.decoded = 0  # utterances given to the engine in them

    @property
    def waiting(self) -> int:
        """Calls queued for a batch that has not started."""
        return sum(not future.done() for _, _, future in self._pending)

    async def transcribe(self, audio: Float32Audio, language: str | None, prompt: str | None) -> Transcript:
        future: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        self._pending.append(((audio, language, prompt), time.monotonic(), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain(), name="asr-batch")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            live = [p for p in self._pending if not p[2].done()]
            batch, rest = live[:self._max], live[self._max:]
            self._pending = rest
            if not batch:
                return
            now = time.monotonic()
            for _, since, _ in batch:
                self._waited(now - since)
            items = [item for item, _, _ in batch]
            self.batches += 1
            self.decoded += len(items)
            try:
                results = await self._run(functools.partial(self.engine.transcribe_batch, items))
            except asyncio.CancelledError:
                for _, _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
