"""Voices the core's answer to one turn, and stops it when the caller barges in.

One reply runs at a time as a task. Clauses from the core are cut into speakable pieces,
synthesised off the event loop, converted to the session's audio format and sent as 20 ms
frames. Whether the caller is still hearing the reply is tracked in caller media time (the far
end plays in real time), or in wall-clock time while the caller sends no media (gateway.playout),
so a barge-in or a next turn cuts (audio.clear) only a reply that is still audible.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import numpy as np

from gateway.core.api import CoreEvent, Handoff, ReplyClause, TextTurn
from gateway.errors import BackendError
from gateway.events import AudioClear, CoreOutput, ReplyAudio, ReplyAudioEnd, TurnTiming
from gateway.logs import log_event
from gateway.media import ReplyEncoder
from gateway.playout import Playout
from gateway.tracing import TurnTrace, mark_failed, untraced
from modalities.voice.clauses import speakable_pieces
from models.base import Int16Audio

if TYPE_CHECKING:
    from gateway.session import Session

MAX_CANCELLED_REMEMBERED = 64

log = logging.getLogger("gateway.session")


class ReplyPlayer:
    def __init__(self, session: Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._turn_id = 0
        self._cancelled: list[int] = []
        self._playout = Playout()
        self._last_reply: tuple[str, str] | None = None  # (text, language) for DTMF '#'
        self._trace: TurnTrace | None = None  # the spans of the turn being answered (or last answered)

    # ------------------------------------------------------------------ state

    @property
    def active(self) -> bool:
        """The caller is (probably) still hearing reply audio, or a reply is being prepared."""
        if self._task is not None and not self._task.done():
            return True
        return self._playout.audible(self._clock())

    def advance(self, media_ms: int) -> None:
        self._playout.media(media_ms, self._clock())

    def played(self, turn_id: int) -> None:
        if turn_id == self._turn_id and (self._task is None or self._task.done()):
            self._playout.over()

    def is_cancelled(self, turn_id: int) -> bool:
        return turn_id in self._cancelled

    # ------------------------------------------------------------------ control

    async def start(self, turn_id: int, turn: TextTurn, *, speech_end_wall: float | None,
                    asr_ms: float, trace: TurnTrace) -> None:
        """The core answers the caller's turn, and the answer is voiced; the reply ends `trace`."""
        await self._launch(turn_id, self.session.conversation.respond(turn), turn.language, "bot",
                           speech_end_wall, asr_ms, trace)

    async def say(self, turn_id: int, text: str, language: str, *, speaker: str) -> None:
        """Voices a given text (a person's reply, or a repeat of the last reply): no core involved."""
        async def clause() -> AsyncIterator[CoreEvent]:
            yield ReplyClause(text, language, final=True)

        await self._launch(turn_id, clause(), language, speaker, None, 0.0, untraced())  # not a caller turn

    async def _launch(self, turn_id: int, events: AsyncIterator[CoreEvent], language: str, speaker: str,
                      speech_end_wall: float | None, asr_ms: float, trace: TurnTrace) -> None:
        await self._stop(clear=True, reason="next-turn")
        self._turn_id = turn_id
        self._playout.begin()
        self._trace = trace
        self._task = asyncio.create_task(self.session._guard(
            self._reply(turn_id, events, language, speaker, speech_end_wall, asr_ms, trace)))

    async def interrupt(self, media_ms: int) -> None:
        """Barge-in: stop the reply and tell the far end to drop what it has not played."""
        if self.active:
            self.session.deps.metrics.barge_ins.inc()
            await self._stop(clear=True, reason="barge-in", media_ms=media_ms)

    async def repeat_last(self) -> None:
        if self._last_reply is not None:
            text, language = self._last_reply
            await self.say(self.session._next_turn(), text, language, speaker="bot")

    async def _stop(self, *, clear: bool, reason: str, media_ms: int | None = None) -> None:
        was_audible = self.active
        if was_audible and self._trace is not None:
            self._trace.interrupted(reason)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._trace is not None:
            self._trace.end()  # a task cancelled before it ran never reached its own end()
        self._task = None
        if clear and was_audible and self._turn_id:
            self._cancelled = [*self._cancelled[-MAX_CANCELLED_REMEMBERED:], self._turn_id]
            self.session.emit_nowait(AudioClear(self._turn_id, self._playout.media_ms if media_ms is None
                                                else media_ms))
        self._playout.over()

    async def aclose(self) -> None:
        await self._stop(clear=False, reason="session-end")

    # ------------------------------------------------------------------ the reply

    async def _reply(self, turn_id: int, events: AsyncIterator[CoreEvent], language: str, speaker: str,
                     speech_end_wall: float | None, asr_ms: float, trace: TurnTrace) -> None:
        with trace.ends_on_error():
            await self._voice(turn_id, events, language, speaker, speech_end_wall, asr_ms, trace)
        trace.end()

    async def _voice(self, turn_id: int, events: AsyncIterator[CoreEvent], language: str, speaker: str,
                     speech_end_wall: float | None, asr_ms: float, trace: TurnTrace) -> None:
        session = self.session
        started = time.perf_counter()
        reference = speech_end_wall if speech_end_wall is not None else started
        encoder = ReplyEncoder(session.request.audio)
        spoken: list[str] = []
        timings: dict[str, float] = {"asr": asr_ms}
        first_audio: float | None = None
        seq = 0
        voice_failed = False
        async for event in self._core_span(events, trace):
            timings.setdefault("core_first", (time.perf_counter() - started) * 1000)
            await session.emit(CoreOutput(turn_id, event))
            if isinstance(event, Handoff):
                session.deps.metrics.handoffs.labels(event.reason).inc()
                trace.set({"turn.handoff": event.reason})
                await session.record("system", turn_id, "text", f"handoff: {event.reason}", language, {})
            if not isinstance(event, ReplyClause) or not event.text.strip():
                continue
            spoken.append(event.text)
            language = event.language or language
            for piece in speakable_pieces(event.text):
                if voice_failed:
                    break  # the reply goes on as text (captions); the next turn tries the voice again
                tts_started = time.perf_counter()
                try:
                    with trace.stage("tts", {"gateway.backend": session.deps.engines.tts_backend(language),
                                             "turn.language": language, "tts.chars": len(piece)}) as span:
                        pcm, rate = await self._synthesize(piece, language)
                        span.set_attribute("tts.audio_ms", len(pcm) * 1000 // rate)
                except BackendError as exc:
                    voice_failed = True
                    await session.report(exc)
                    continue
                timings.setdefault("tts_first", (time.perf_counter() - tts_started) * 1000)
                for frame in encoder.encode(pcm, rate):
                    if first_audio is None:
                        first_audio = time.perf_counter()
                        self._playout.first_frame()
                        trace.event("reply.first_audio")
                    await session.emit(ReplyAudio(turn_id, frame, seq))
                    seq += 1
                    self._playout.sent(20.0, self._clock())
        for frame in encoder.flush():
            await session.emit(ReplyAudio(turn_id, frame, seq))
            seq += 1
            self._playout.sent(20.0, self._clock())
        await session.emit(ReplyAudioEnd(turn_id))
        text = " ".join(spoken) if language not in ("zh", "yue", "ja") else "".join(spoken)
        latency = None if first_audio is None else (first_audio - reference) * 1000
        trace.set({"reply.clauses": len(spoken), "reply.audio_ms": int(self._playout.sent_ms)})
        stage = session.deps.metrics.stage
        for name, key in (("core", "core_first"), ("tts", "tts_first")):
            if key in timings:  # the time to the first clause / the first synthesized audio
                stage.labels(name).observe(timings[key] / 1000)
        if latency is not None:
            timings["reply_latency"] = latency
            trace.set({"reply.latency_ms": round(latency, 1)})
            if speech_end_wall is not None:
                session.deps.metrics.reply_latency.observe(latency / 1000)
        if text:
            self._last_reply = (text, language)
            await session.record(speaker, turn_id, "speech", text, language, timings)
        await session.emit(TurnTiming(turn_id, timings, latency if speech_end_wall is not None else None))
        log_event(log, "turn", session_id=session.session_id, turn_id=turn_id, speaker=speaker,
                  language=language, clauses=len(spoken),
                  **{f"{k}_ms": round(v, 1) for k, v in timings.items()})

    async def _core_span(self, events: AsyncIterator[CoreEvent],
                         trace: TurnTrace) -> AsyncIterator[CoreEvent]:
        """The core's events; a "core" span covers the wait for the first (the core's share of the
        reply latency). Later clauses of a streaming answer are made while earlier ones are voiced."""
        core = trace.start_stage("core", {"gateway.backend": self.session.deps.settings.core.backend})
        open_ = True
        try:
            async for event in events:
                if open_:
                    core.end()
                    open_ = False
                yield event
        except BaseException as exc:
            if open_:
                mark_failed(core, exc)
            raise
        finally:
            if open_:  # no output at all, or failed or cancelled before the first
                core.end()

    async def _synthesize(self, text: str, language: str) -> tuple[Int16Audio, int]:
        chunks, rate = await self.session.deps.engines.synthesize(text, language)
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return pcm, rate
