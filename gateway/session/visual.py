"""The screen and sign workers: screenshots and sign-language video become text turns.

Screenshots: one ScreenReader per session (it remembers the previous screenshot so an unchanged
screen share costs little), run off the event loop on the process's shared OCR engine.
Sign video: one SignPipeline per session fed by a one-slot mailbox: while a frame is being
tracked, a newer frame replaces the waiting one and the replaced frame is counted as dropped,
so a flood of frames never queues. What it recognises goes back to the machine (`SignSaw`).

Both depend on the engines, a `tell` function into the machine and the metrics; never the session.
A frame that fails is reported by the runner's one error policy; the sign loop goes on (and the
runner restarts it, with a fresh pipeline, if the loop itself dies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from gateway.core.api import TextTurn
from gateway.engines import Engines
from gateway.errors import GatewayError, ProtocolError
from gateway.metrics import Metrics
from gateway.session.messages import SignSaw, WorkerFailed
from gateway.session.reply import Tell
from gateway.tracing import TurnTrace
from modalities.screen.settings import ScreenSettings

if TYPE_CHECKING:
    from modalities.screen.reader import ScreenReader
    from modalities.sign.pipeline import SignPipeline

log = logging.getLogger("gateway.session")


class ScreenWorker:
    def __init__(self, engines: Engines, metrics: Metrics, settings: ScreenSettings) -> None:
        self._engines = engines
        self._metrics = metrics
        self._settings = settings
        self._reader: ScreenReader | None = None

    async def read(self, data: bytes, language: str, trace: TurnTrace) -> TextTurn:
        with trace.stage("screen", {"gateway.backend": self._settings.engine,
                                    "screen.bytes": len(data)}) as span:
            if self._reader is None:
                self._reader = await asyncio.to_thread(self._engines.screen_reader)
            result = await self._engines.run("screen", self._reader.read, data)
            timings = result.timings_ms
            # The reader's own steps as durations: counts and times only, never the text read.
            span.set_attributes({f"screen.{step}_ms": round(ms, 1) for step, ms in timings.items()})
            span.set_attributes({"screen.kind": result.kind, "screen.lines": len(result.lines),
                                 "screen.reused_lines": result.reused_lines})
        total = timings.get("total", sum(timings.values()))
        self._metrics.stage.labels("screen").observe(total / 1000)
        return result.to_turn(language)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class SignWorker:
    def __init__(self, engines: Engines, metrics: Metrics, tell: Tell) -> None:
        self._engines = engines
        self._metrics = metrics
        self._tell = tell
        self._pipeline: SignPipeline | None = None
        self._slot: tuple[bytes, int] | None = None
        self._wake = asyncio.Event()
        self.dropped = 0
        self.processed = 0

    def push(self, data: bytes, media_time_ms: int) -> None:
        if self._slot is not None:
            self.dropped += 1
            self._metrics.dropped_frames.inc()
        self._slot = (data, media_time_ms)
        self._wake.set()

    async def confirm(self, yes: bool) -> None:
        pipeline = await self._ensure()
        await self._tell(SignSaw(tuple(pipeline.confirm(yes))))

    async def _ensure(self) -> SignPipeline:
        if self._pipeline is None:
            self._pipeline = await asyncio.to_thread(self._engines.sign_pipeline)
        return self._pipeline

    async def run(self) -> None:
        """The worker loop; a frame that fails is reported and the next frame is tracked."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._slot is None:
                continue
            data, t_ms = self._slot
            self._slot = None
            try:
                await self._frame(data, t_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._tell(WorkerFailed("sign", None, as_gateway_error(exc, "sign")))

    async def _frame(self, data: bytes, t_ms: int) -> None:
        pipeline = await self._ensure()
        resets = pipeline.clock_resets
        started = time.perf_counter()
        events = await asyncio.to_thread(pipeline.process_frame, data, t_ms)
        self.processed += 1
        # Per sampled frame: tracking, classification, decoding (dropped frames are not timed).
        self._metrics.stage.labels("sign-frame").observe(time.perf_counter() - started)
        await self._tell(SignSaw(tuple(events)))
        if pipeline.clock_resets != resets:  # handled, but the integrator should know
            await self._tell(WorkerFailed("sign", None, ProtocolError(
                f"video.frame t_ms went back to {t_ms}: frames continue on a new timeline",
                code="video-clock-reset")))

    async def restart(self) -> None:
        """After the loop itself died: a fresh pipeline for the frames to come."""
        await self.aclose()
        self._slot = None

    async def aclose(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            await asyncio.to_thread(pipeline.close)


def as_gateway_error(exc: BaseException, stage: str) -> GatewayError:
    """The one error policy: a GatewayError keeps its code; anything else is a bug, `internal-error`."""
    if isinstance(exc, GatewayError):
        return exc
    log.error("the %s stage failed", stage, exc_info=exc)  # a bug: the trace goes to the log only
    return GatewayError(f"the {stage} stage failed ({type(exc).__name__}); the session continues")
