"""A session: one conversation on one channel, from session start to hang-up.

Inputs arrive through the SessionPort push methods into one bounded inbox and are handled in
order by `run()`: caller audio goes through VAD and endpointing (media time), each finished turn
is transcribed (mostly already, during the caller's pauses), handed to the conversation core,
and the reply is voiced. A barge-in cancels the reply task and tells the far end to drop queued
audio. Errors in one input become error events; the session and its transcript live on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.core.api import Conversation, Modality, TextTurn
from gateway.engines import Engines
from gateway.errors import GatewayError, LimitExceeded
from gateway.events import (
    CANCELLABLE,
    ErrorEvent,
    ReplyAudio,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TranscriptFinal,
    TranscriptPartial,
)
from gateway.inputs import (
    AgentSays,
    AudioIn,
    BargeInRequest,
    DtmfIn,
    End,
    ImageIn,
    Played,
    SessionInput,
    SignConfirm,
    TextIn,
    VideoFrameIn,
)
from gateway.logs import log_event
from gateway.media import CallerAudio
from gateway.metrics import Metrics
from gateway.ports import SessionRequest
from gateway.reply import ReplyPlayer
from gateway.store.transcripts import TranscriptWriter, TurnRecord
from gateway.tracing import Tracing, TurnTrace
from gateway.visual import ScreenInput, SignInput
from modalities.speech.endpointing import (
    BargeIn,
    EndpointConfig,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    sounds_complete,
)
from modalities.speech.listener import SpeechListener
from modalities.speech.repetition import cut_runaway
from modalities.speech.transcriber import TurnText, TurnTranscriber

log = logging.getLogger("gateway.session")

INBOX_SIZE = 500  # 10 s of 20 ms frames; beyond that the caller's input is dropped with an error
OUTBOX_SIZE = 2000
TRANSCRIPT_KEPT = 500  # turns kept in memory for an agent; all turns are in the store


@dataclass
class SessionDeps:
    settings: Settings
    engines: Engines
    store: TranscriptWriter
    metrics: Metrics
    mask: Callable[[str], str] = field(default=lambda text: text)  # PII masking before storage
    tracing: Tracing = field(default_factory=Tracing)  # per-turn spans; the default records nothing


class Session:
    def __init__(self, session_id: str, request: SessionRequest, conversation: Conversation,
                 deps: SessionDeps) -> None:
        self.session_id = session_id
        self.request = request
        self.deps = deps
        self.conversation = conversation
        self.language = request.language
        self._inbox: asyncio.Queue[SessionInput] = asyncio.Queue(INBOX_SIZE)
        self._outbox: asyncio.Queue[SessionEvent] = asyncio.Queue(OUTBOX_SIZE)
        self._closed = asyncio.Event()
        self._ended = False
        self._overflowing = False
        self._turn_id = 0
        self._opened = time.monotonic()
        self._listener: SpeechListener | None = None
        self._caller_audio: CallerAudio | None = None
        self._tx: TurnTranscriber | None = None
        self._tx_trace: TurnTrace | None = None  # the speech turn being heard (from its first word)
        self._pause_task: asyncio.Task[str] | None = None
        self._pause_end_ms = -1
        self._turn_tasks: set[asyncio.Task[None]] = set()
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=1000)
        self.player = ReplyPlayer(self)
        self.screen = ScreenInput(self)
        self.sign = SignInput(self)
        self._screen_task: asyncio.Task[None] | None = None
        self._watchers: list[asyncio.Queue[SessionEvent]] = []
        # What was said so far (masked), for a person who takes the call over.
        self.transcript: collections.deque[TurnRecord] = collections.deque(maxlen=TRANSCRIPT_KEPT)
        self._runner: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ SessionPort

    def push_audio(self, payload: bytes) -> None:
        self._push(AudioIn(payload))

    def push_text(self, text: str) -> None:
        self._push(TextIn(text))

    def push_dtmf(self, digit: str) -> None:
        self._push(DtmfIn(digit))

    def push_image(self, data: bytes) -> None:
        self._push(ImageIn(data))

    def push_video_frame(self, data: bytes, media_time_ms: int) -> None:
        self._push(VideoFrameIn(data, media_time_ms))

    def confirm_sign(self, yes: bool) -> None:
        self._push(SignConfirm(yes))

    def barge_in(self) -> None:
        self._push(BargeInRequest())

    def mark_played(self, turn_id: int) -> None:
        self._push(Played(turn_id))

    def _push(self, item: SessionInput) -> None:
        if self._ended:
            return
        try:
            self._inbox.put_nowait(item)
            self._overflowing = False
        except asyncio.QueueFull:
            self.deps.metrics.dropped_inputs.labels(self.request.channel).inc()
            if not self._overflowing:  # one error per burst, not one per dropped frame
                self._overflowing = True
                self.emit_nowait(ErrorEvent("limit-exceeded",
                                            "input arrives faster than it can be handled; dropped"))

    async def events(self) -> AsyncIterator[SessionEvent]:
        while True:
            event = await self._outbox.get()
            if isinstance(event, CANCELLABLE) and self.player.is_cancelled(event.turn_id):
                continue
            yield event
            if isinstance(event, SessionEnded):
                return

    async def close(self, reason: str = "hangup") -> None:
        if not self._ended:
            self._push(End(reason))
        await self._closed.wait()

    # ------------------------------------------------------------------ output

    async def emit(self, event: SessionEvent) -> None:
        await self._outbox.put(event)
        self._to_watchers(event)

    @property
    def queue_depths(self) -> tuple[int, int]:
        """Inputs waiting to be handled, events waiting to be sent."""
        return self._inbox.qsize(), self._outbox.qsize()

    def watch(self, maxsize: int = 500) -> asyncio.Queue[SessionEvent]:
        """A copy of this session's events (not its audio) for a person watching it (an agent).
        Bounded: a watcher that stops reading loses events, never the session."""
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

    def agent_say(self, agent_id: str, text: str) -> None:
        """A person's words to the caller: voiced and stored as the agent's turn."""
        self._push(AgentSays(agent_id, text))

    def emit_nowait(self, event: SessionEvent) -> None:
        try:
            self._outbox.put_nowait(event)
        except asyncio.QueueFull:  # consumer gone or stalled: the event is only lost to the wire
            self.deps.metrics.dropped_events.inc()
        self._to_watchers(event)

    async def report(self, error: GatewayError) -> None:
        """An error in handling this session's input: counted, logged, sent, stored."""
        await self.emit(ErrorEvent(error.code, error.message))
        await self._note(error)

    async def refuse(self, error: GatewayError) -> None:
        """An input a transport could not take (malformed, oversized, over the rate): reported like
        report(), without waiting on a stalled consumer."""
        self.emit_nowait(ErrorEvent(error.code, error.message))
        await self._note(error)

    async def _note(self, error: GatewayError) -> None:
        self.deps.metrics.errors.labels(error.code).inc()
        log_event(log, "session.error", session_id=self.session_id, code=error.code)  # never the message
        await self.deps.store.error(self.session_id, error.code, self.deps.mask(error.message))

    # ------------------------------------------------------------------ main loop

    def start(self) -> None:
        self._runner = asyncio.create_task(self.run(), name=f"session-{self.session_id}")

    async def run(self) -> None:
        reason = "ended"
        try:
            await self.deps.store.session_started(self.session_id, self.request.tenant,
                                                  self.request.channel, self.language,
                                                  caller=self.request.params.get("caller"))
            await self.emit(SessionStarted(self.session_id, self.request.audio, self.language))
            log_event(log, "session.started", session_id=self.session_id, tenant=self.request.tenant,
                      channel=self.request.channel, language=self.language)
            idle = self.deps.settings.server.idle_timeout_s
            while True:
                try:
                    async with asyncio.timeout(idle):  # not wait_for: it may swallow a cancel (3.11)
                        item = await self._inbox.get()
                except TimeoutError:
                    reason = "idle-timeout"
                    break
                if isinstance(item, End):
                    reason = item.reason
                    break
                try:
                    await self._handle(item)
                except GatewayError as exc:
                    await self.report(exc)
        except Exception:  # a bug must not lose the transcript: log it and end cleanly
            log.exception("session %s failed", self.session_id)
            reason = "internal-error"
        finally:
            await self._shutdown(reason)

    async def _handle(self, item: SessionInput) -> None:
        if isinstance(item, AudioIn):
            await self._on_audio(item.payload)
        elif isinstance(item, TextIn):
            self._next_turn()
            await self.start_turn(TextTurn(item.text.strip(), self._text_language(item.text), "text"))
        elif isinstance(item, DtmfIn):
            if item.digit == "#":
                await self.player.repeat_last()
            else:
                self._next_turn()
                await self.start_turn(TextTurn(item.digit, self.language, "dtmf"))
        elif isinstance(item, BargeInRequest):
            await self.player.interrupt(self._listener.media_ms if self._listener else 0)
        elif isinstance(item, Played):
            self.player.played(item.turn_id)
        elif isinstance(item, ImageIn):
            if self._screen_task is not None and not self._screen_task.done():
                raise LimitExceeded("a screenshot is still being read; send the next one after its turn",
                                    code="image-busy")
            self._screen_task = asyncio.create_task(self._guard(self._on_image(item.data)))
        elif isinstance(item, VideoFrameIn):
            self.sign.push(item.data, item.media_time_ms)
        elif isinstance(item, SignConfirm):
            await self.sign.confirm(item.yes)
        elif isinstance(item, AgentSays):
            language = self.language if self.language != "auto" else self._text_language(item.text)
            await self.player.say(self._next_turn(), item.text, language, speaker="agent")

    async def _on_image(self, data: bytes) -> None:
        trace = self.trace_turn("screen")  # from arrival: reading the screenshot is part of the turn
        with trace.ends_on_error():
            turn = await self.screen.read(data, trace)
        self._next_turn()
        await self.start_turn(turn, trace=trace)

    def _next_turn(self) -> int:
        self._turn_id += 1
        return self._turn_id

    def _text_language(self, text: str) -> str:
        if self.language != "auto":
            return self.language
        return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"

    # ------------------------------------------------------------------ speech in

    async def _ensure_listener(self) -> SpeechListener:
        if self._listener is None:
            speech = self.deps.settings.speech
            vad = await asyncio.to_thread(self.deps.engines.new_vad)
            config = EndpointConfig(threshold=speech.vad_threshold, min_speech_ms=speech.min_speech_ms,
                                    end_complete_ms=speech.end_silence_ms,
                                    end_incomplete_ms=max(speech.end_silence_ms, speech.end_incomplete_ms),
                                    max_turn_ms=int(speech.max_turn_s * 1000),
                                    barge_in_ms=speech.barge_in_ms, pause_factor=speech.pause_factor)
            self._listener = SpeechListener(vad, config, max_turn_s=speech.max_turn_s)
            self._caller_audio = CallerAudio(self.request.audio)
        return self._listener

    async def _on_audio(self, payload: bytes) -> None:
        listener = await self._ensure_listener()
        assert self._caller_audio is not None
        # Deterministic turn-taking at any input speed: when the turn would end if the words so far
        # were finished, wait for the transcript of the pause before consuming more audio.
        if listener.endpointer.awaiting_hint and self._pause_task is not None:
            await asyncio.wait({self._pause_task})
        audio = self._caller_audio.decode(payload)
        events = listener.feed(audio)
        self._arrivals.append((listener.media_ms, time.perf_counter()))
        self.player.advance(listener.media_ms)
        listener.endpointer.reply_active = self.player.active
        for event in events:
            if isinstance(event, BargeIn):
                await self.player.interrupt(event.at_ms)
            elif isinstance(event, SpeechStarted):
                self._start_speech_turn(listener, event.start_ms)
            elif isinstance(event, PauseStarted) and self._tx is not None:
                if not self.deps.settings.speech.transcribe_in_pauses:
                    # The conventional pipeline (kept as the benchmark's baseline): a fixed silence
                    # ends the turn, and the whole turn is transcribed only then.
                    listener.endpointer.hint(True)
                    continue
                self._pause_end_ms = event.segment_end_ms
                self._pause_task = asyncio.create_task(self._transcribe_pause(self._tx, event.segment_end_ms))
            elif isinstance(event, SpeechResumed) and self._tx is not None and self._pause_end_ms >= 0:
                self._tx.resumed(self._pause_end_ms, event.at_ms)
            elif isinstance(event, TurnEnded) and self._tx is not None:
                tx, self._tx = self._tx, None
                trace, self._tx_trace = self._tx_trace or self.trace_turn("speech"), None
                trace.event("speech.end")
                pending = tx.finish(event.speech_end_ms, loop_time=time.perf_counter)
                self._spawn(self._finish_speech_turn(pending, self._turn_id, event, trace))

    def _start_speech_turn(self, listener: SpeechListener, start_ms: int) -> None:
        language = None if self.language == "auto" else self.language
        model = self.deps.engines.asr_model_for(self.language)
        trace = self.trace_turn("speech")  # from the first word: ASR runs in the caller's pauses

        async def asr(audio, language, prompt):
            started = time.perf_counter()
            with trace.stage("asr", {"gateway.backend": model, "asr.audio_ms": len(audio) // 16}) as span:
                result = await self.deps.engines.transcribe(model, audio, language, prompt)
                span.set_attribute("turn.language", result.language or "")
            self.deps.metrics.stage.labels("asr").observe(time.perf_counter() - started)
            return result

        turn_id = self._next_turn()
        trace.set({"turn.id": turn_id})
        if self._tx_trace is not None:  # defensive: a turn that never ended must not stay open
            self._tx_trace.set({"turn.abandoned": True})
            self._tx_trace.end()
        self._tx, self._tx_trace = TurnTranscriber(asr, listener.audio, language=language,
                                                   start_ms=start_ms), trace

    async def _transcribe_pause(self, tx: TurnTranscriber, end_ms: int) -> str:
        try:
            text = await tx.transcribe_until(end_ms)
        except GatewayError as exc:
            await self.report(exc)
            return ""
        listener = self._listener
        if listener is not None and tx is self._tx and self._pause_end_ms == end_ms:
            listener.endpointer.hint(sounds_complete(text))
        if text and tx is self._tx:
            await self.emit(TranscriptPartial(self._turn_id, text, tx.language or ""))
        return text

    async def _finish_speech_turn(self, pending: Awaitable[TurnText], turn_id: int,
                                  ended: TurnEnded, trace: TurnTrace) -> None:
        speech_end_wall = self._arrival_of(ended.speech_end_ms)
        with trace.ends_on_error():
            result = await pending
        if not result.text:  # a cough or a click: no turn, nothing to answer
            self.deps.metrics.empty_turns.inc()
            trace.set({"turn.empty": True})
            trace.end()
            return
        language = result.language or self._text_language(result.text)
        await self.start_turn(TextTurn(result.text, language, "speech"), turn_id=turn_id,
                              speech_end_wall=speech_end_wall, asr_ms=result.asr_ms, trace=trace)

    def _arrival_of(self, media_ms: int) -> float:
        for at_ms, wall in self._arrivals:
            if at_ms >= media_ms:
                return wall
        return time.perf_counter()

    # ------------------------------------------------------------------ turns

    async def start_turn(self, turn: TextTurn, *, turn_id: int | None = None,
                         speech_end_wall: float | None = None, asr_ms: float = 0.0,
                         trace: TurnTrace | None = None) -> None:
        """A caller turn is final: record it and have the core answer it (cancels a running reply).

        `trace` is the turn's span if it began earlier (speech, screenshot); the reply ends it."""
        turn_id = self._turn_id if turn_id is None else turn_id
        turn = TextTurn(cut_runaway(turn.text), turn.language, turn.modality, turn.detail)  # runaway ASR
        trace = trace or self.trace_turn(turn.modality)
        trace.set({"turn.id": turn_id, "turn.language": turn.language})
        with trace.ends_on_error():
            await self.emit(TranscriptFinal(turn_id, turn.text, turn.language, turn.modality))
            await self.record("caller", turn_id, turn.modality, turn.text, turn.language, {"asr": asr_ms})
        await self.player.start(turn_id, turn, speech_end_wall=speech_end_wall, asr_ms=asr_ms, trace=trace)

    def trace_turn(self, modality: str) -> TurnTrace:
        return self.deps.tracing.turn(self.session_id, channel=self.request.channel,
                                      tenant=self.request.tenant, modality=modality)

    async def record(self, speaker: str, turn_id: int, modality: Modality | str, text: str,
                     language: str, timings: dict[str, float]) -> None:
        record = TurnRecord(self.session_id, turn_id, speaker, modality, self.deps.mask(text), language,
                            timings, time.time())
        self.transcript.append(record)
        await self.deps.store.turn(record)

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(self._guard(coro))
        self._turn_tasks.add(task)
        task.add_done_callback(self._turn_tasks.discard)

    async def _guard(self, coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except GatewayError as exc:
            await self.report(exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("turn failed in session %s", self.session_id)
            await self.report(GatewayError("the turn failed; the session continues"))

    async def _shutdown(self, reason: str) -> None:
        self._ended = True
        pending = [t for t in (self._pause_task, self._screen_task, *self._turn_tasks)
                   if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._tx_trace is not None:  # the caller hung up mid-sentence: no reply will end it
            self._tx_trace.set({"turn.abandoned": True})
            self._tx_trace.end()
        await self.player.aclose()
        await self.sign.aclose()
        self.screen.close()
        try:
            await self.conversation.aclose()
        finally:
            if self._listener is not None:
                self._listener.vad.close()
            await self.deps.store.session_ended(self.session_id, reason)
            self.emit_nowait(SessionEnded(self.session_id, reason))
            log_event(log, "session.ended", session_id=self.session_id, reason=reason, turns=self._turn_id,
                      seconds=round(time.monotonic() - self._opened, 1))
            self._closed.set()

