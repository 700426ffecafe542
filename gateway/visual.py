"""Screenshots and sign-language video inside a session: both end as ordinary text turns.

Screenshots: one ScreenReader per session (it remembers the previous screenshot so an unchanged
screen share costs little), run off the event loop on the process's shared OCR engine.
Sign video: one SignPipeline per session fed by a one-slot mailbox: while a frame is being
tracked, a newer frame replaces the waiting one and the replaced frame is counted as dropped,
so a flood of frames never queues. Captions stream back as they are recognised.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from gateway.core.api import TextTurn
from gateway.errors import GatewayError, ProtocolError
from gateway.events import Caption
from modalities.sign.events import (
    LetterRecognised,
    ReadbackResolved,
    SignEvent,
    SignTurnReady,
    WordRecognised,
)

if TYPE_CHECKING:
    from gateway.session import Session
    from gateway.tracing import TurnTrace
    from modalities.screen.reader import ScreenReader
    from modalities.sign.pipeline import SignPipeline


class ScreenInput:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._reader: ScreenReader | None = None

    async def read(self, data: bytes, trace: TurnTrace) -> TextTurn:
        engines = self.session.deps.engines
        settings = self.session.deps.settings.screen
        with trace.stage("screen", {"gateway.backend": settings.engine, "screen.bytes": len(data)}) as span:
            if self._reader is None:
                self._reader = await asyncio.to_thread(engines.screen_reader)
            reader = self._reader
            result = await engines.run("screen", reader.read, data)
            timings = result.timings_ms
            # The reader's own steps (decode, detect, recognize, layout, ...) as durations: counts and
            # times only, never the text read.
            span.set_attributes({f"screen.{step}_ms": round(ms, 1) for step, ms in timings.items()})
            span.set_attributes({"screen.kind": result.kind, "screen.lines": len(result.lines),
                                 "screen.reused_lines": result.reused_lines})
        total = timings.get("total", sum(timings.values()))
        self.session.deps.metrics.stage.labels("screen").observe(total / 1000)
        language = self.session.language if self.session.language != "auto" else "en"
        return result.to_turn(language)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class SignInput:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._pipeline: SignPipeline | None = None
        self._slot: tuple[bytes, int] | None = None
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.dropped = 0

    def push(self, data: bytes, media_time_ms: int) -> None:
        if self._slot is not None:
            self.dropped += 1
            self.session.deps.metrics.dropped_frames.inc()
        self._slot = (data, media_time_ms)
        self._wake.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"sign-{self.session.session_id}")

    async def confirm(self, yes: bool) -> None:
        pipeline = await self._ensure()
        await self._deliver(pipeline.confirm(yes))

    async def _ensure(self) -> SignPipeline:
        if self._pipeline is None:
            self._pipeline = await asyncio.to_thread(self.session.deps.engines.sign_pipeline)
        return self._pipeline

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._slot is None:
                continue
            data, t_ms = self._slot
            self._slot = None
            try:
                pipeline = await self._ensure()
                resets = pipeline.clock_resets
                started = time.perf_counter()
                events = await asyncio.to_thread(pipeline.process_frame, data, t_ms)
                # Per sampled frame: tracking, classification, decoding (dropped frames are not timed).
                self.session.deps.metrics.stage.labels("sign-frame").observe(time.perf_counter() - started)
                await self._deliver(events)
                if pipeline.clock_resets != resets:  # handled, but the integrator should know
                    await self.session.report(ProtocolError(
                        f"video.frame t_ms went back to {t_ms}: frames continue on a new timeline",
                        code="video-clock-reset"))
            except GatewayError as exc:
                await self.session.report(exc)

    async def _deliver(self, events: list[SignEvent]) -> None:
        session = self.session
        for event in events:
            if isinstance(event, LetterRecognised):
                await session.emit(Caption(event.letter, "sign-letter", {"confidence": event.confidence}))
            elif isinstance(event, WordRecognised):
                await session.emit(Caption(event.word, "sign-word", {"confidence": event.confidence}))
            elif isinstance(event, SignTurnReady):
                if event.needs_readback:
                    await session.emit(Caption(event.readback_prompt, "sign-readback",
                                               {"text": event.text, "confidence": event.confidence}))
                else:
                    await self._turn(event.text, event.confidence)
            elif isinstance(event, ReadbackResolved):
                await session.emit(Caption(event.text, "sign-readback-answer",
                                           {"confirmed": event.confirmed}))
                if event.confirmed:
                    await self._turn(event.text, 1.0)

    async def _turn(self, text: str, confidence: float) -> None:
        self.session._next_turn()
        await self.session.start_turn(TextTurn(text, "en", "sign", {"confidence": confidence}))

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._pipeline is not None:
            await asyncio.to_thread(self._pipeline.close)
