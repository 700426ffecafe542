"""The reply worker: voices the core's answer to one turn (or a given text).

Clauses from the core are cut into speakable pieces, synthesised off the event loop, converted
to the session's audio format and handed back to the machine as 20 ms frames (`ReplySpoken`); the
machine decides whether they are still wanted (a barge-in cuts a reply). A failing voice is
reported once and the reply goes on as text (captions); the next turn tries the voice again.

Depends on the engines, a `tell` function into the machine and the metrics; never the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from gateway.core.api import CoreEvent, Handoff, ReplyClause
from gateway.engines import Engines
from gateway.errors import BackendError
from gateway.events import AudioFormat
from gateway.logs import log_event
from gateway.media import ReplyEncoder
from gateway.metrics import Metrics
from gateway.session.messages import ReplyDone, ReplyOutput, ReplySpoken, Result, Speaker, WorkerFailed
from gateway.tracing import TurnTrace, mark_failed
from modalities.voice.clauses import speakable_pieces

log = logging.getLogger("gateway.session")

Tell = Callable[[Result], Awaitable[None]]


async def one_clause(text: str, language: str) -> AsyncIterator[CoreEvent]:
    yield ReplyClause(text, language, final=True)


class ReplyWorker:
    def __init__(self, engines: Engines, metrics: Metrics, audio: AudioFormat, tell: Tell, *,
                 session_id: str, core_backend: str) -> None:
        self._engines = engines
        self._metrics = metrics
        self._audio = audio
        self._tell = tell
        self._session_id = session_id
        self._core_backend = core_backend

    async def voice(self, turn_id: int, events: AsyncIterator[CoreEvent], language: str, speaker: Speaker,
                    speech_end_wall: float | None, asr_ms: float, trace: TurnTrace) -> None:
        """The reply of one turn; it ends `trace` (a cancelled reply is ended by the runner)."""
        with trace.ends_on_error():
            await self._voice(turn_id, events, language, speaker, speech_end_wall, asr_ms, trace)
        trace.end()

    async def _voice(self, turn_id: int, events: AsyncIterator[CoreEvent], language: str, speaker: Speaker,
                     speech_end_wall: float | None, asr_ms: float, trace: TurnTrace) -> None:
        started = time.perf_counter()
        reference = speech_end_wall if speech_end_wall is not None else started
        encoder = ReplyEncoder(self._audio)
        spoken: list[str] = []
        timings: dict[str, float] = {"asr": asr_ms}
        first_audio: float | None = None
        seq = 0
        voice_failed = False
        sent_ms = 0.0
        async for event in self._core_span(events, trace):
            timings.setdefault("core_first", (time.perf_counter() - started) * 1000)
            await self._tell(ReplyOutput(turn_id, event))
            if isinstance(event, Handoff):
                self._metrics.handoffs.labels(event.reason).inc()
                trace.set({"turn.handoff": event.reason})
            if not isinstance(event, ReplyClause) or not event.text.strip():
                continue
            spoken.append(event.text)
            language = event.language or language
            # The reply's opening piece is short in Chinese: the voice starts on a few words.
            for piece in speakable_pieces(event.text, short_start=len(spoken) == 1):
                if voice_failed:
                    break
                tts_started = time.perf_counter()
                try:
                    with trace.stage("tts", {"gateway.backend": self._engines.tts_backend(language),
                                             "turn.language": language, "tts.chars": len(piece)}) as span:
                        chunks, rate = await self._engines.synthesize(piece, language)
                        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
                        span.set_attribute("tts.audio_ms", len(pcm) * 1000 // rate)
                except BackendError as exc:
                    voice_failed = True
                    await self._tell(WorkerFailed("tts", turn_id, exc))
                    continue
                timings.setdefault("tts_first", (time.perf_counter() - tts_started) * 1000)
                for frame in encoder.encode(pcm, rate):
                    if first_audio is None:
                        first_audio = time.perf_counter()
                        trace.event("reply.first_audio")
                    await self._tell(ReplySpoken(turn_id, frame, seq))
                    seq, sent_ms = seq + 1, sent_ms + 20.0
        for frame in encoder.flush():
            await self._tell(ReplySpoken(turn_id, frame, seq))
            seq, sent_ms = seq + 1, sent_ms + 20.0
        text = " ".join(spoken) if language not in ("zh", "yue", "ja") else "".join(spoken)
        latency = None if first_audio is None else (first_audio - reference) * 1000
        trace.set({"reply.clauses": len(spoken), "reply.audio_ms": int(sent_ms)})
        for name, key in (("core", "core_first"), ("tts", "tts_first")):
            if key in timings:  # the time to the first clause / the first synthesized audio
                self._metrics.stage.labels(name).observe(timings[key] / 1000)
        if latency is not None:
            timings["reply_latency"] = latency
            trace.set({"reply.latency_ms": round(latency, 1)})
            if speech_end_wall is not None:
                self._metrics.reply_latency.observe(latency / 1000)
        await self._tell(ReplyDone(turn_id, speaker, text, language, timings,
                                   latency if speech_end_wall is not None else None))
        log_event(log, "turn", session_id=self._session_id, turn_id=turn_id, speaker=speaker,
                  language=language, clauses=len(spoken),
                  **{f"{k}_ms": round(v, 1) for k, v in timings.items()})

    async def _core_span(self, events: AsyncIterator[CoreEvent],
                         trace: TurnTrace) -> AsyncIterator[CoreEvent]:
        """The core's events; a "core" span covers the wait for the first (the core's share of the
        reply latency). Later clauses of a streaming answer are made while earlier ones are voiced."""
        core = trace.start_stage("core", {"gateway.backend": self._core_backend})
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
