"""A session: one conversation on one channel, from session start to hang-up.

The thin asyncio shell around the pure SessionMachine (gateway.session.machine): inputs arrive
through `push()` into one bounded inbox and are handed to the machine in order; caller audio is
first turned into VAD windows. The machine's commands are executed here, the slow ones as tasks in
one TaskGroup, each under the same error policy (`_guard`): a failing stage becomes an error event
with a stable code through the machine, and the session and its transcript go on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from gateway.config import Settings
from gateway.core.api import Conversation, Modality
from gateway.engines import Engines
from gateway.errors import GatewayError
from gateway.events import ErrorEvent, SessionEnded, SessionEvent, SessionStarted
from gateway.inputs import (
    AgentSays,
    AudioIn,
    End,
    SessionInput,
)
from gateway.logs import log_event
from gateway.metrics import Metrics
from gateway.ports import SessionRequest
from gateway.session.commands import Executor
from gateway.session.inbox import Inbox
from gateway.session.machine import MachineConfig, SessionMachine
from gateway.session.messages import Command, Result, Stage, WorkerFailed
from gateway.session.outbox import Outbox
from gateway.session.reply import ReplyWorker
from gateway.session.speech import CallerEars, SpeechTurns
from gateway.session.visual import ScreenWorker, SignWorker, as_gateway_error
from gateway.store.transcripts import TranscriptWriter, TurnRecord
from gateway.tracing import Tracing, TurnTrace
from modalities.speech.endpointing import EndpointConfig

log = logging.getLogger("gateway.session")

INBOX_SIZE = 500  # 10 s of 20 ms frames; beyond that the caller's input is dropped with an error
TRANSCRIPT_KEPT = 500  # turns kept in memory for an agent; all turns are in the store
END_GRACE_S = 10.0  # how long a hang-up waits for the transcript of speech still in flight


@dataclass
class SessionDeps:
    settings: Settings
    engines: Engines
    store: TranscriptWriter
    metrics: Metrics
    mask: Callable[[str], str] = field(default=lambda text: text)  # PII masking before storage
    tracing: Tracing = field(default_factory=Tracing)  # per-turn spans; the default records nothing


NARROWBAND_HZ = 16000  # callers sampled below this (8 kHz phone lines) get the narrowband VAD threshold


def machine_config(settings: Settings, language: str, *, judge_turns: bool = False,
                   caller_rate: int = NARROWBAND_HZ) -> MachineConfig:
    s = settings.speech
    threshold = s.narrowband_vad_threshold if caller_rate < NARROWBAND_HZ else s.vad_threshold
    endpoint = EndpointConfig(threshold=threshold, min_speech_ms=s.min_speech_ms,
                              end_complete_ms=s.end_silence_ms,
                              end_incomplete_ms=max(s.end_silence_ms, s.end_incomplete_ms),
                              max_turn_ms=int(s.max_turn_s * 1000), barge_in_ms=s.barge_in_ms,
                              pause_factor=s.pause_factor, end_confident_ms=s.end_confident_ms,
                              turn_threshold=s.turn_threshold, turn_doubt=s.turn_doubt,
                              end_unfinished_ms=s.end_unfinished_ms)
    return MachineConfig(language, endpoint, s.transcribe_in_pauses,
                         judge_turns=judge_turns and s.transcribe_in_pauses,
                         skip_mid_sentence_pass_ms=s.skip_mid_sentence_pass_ms,
                         skip_mid_sentence_languages=s.skip_mid_sentence_languages,
                         prepare_in_pauses=s.prepare_in_pauses)


class Session(Executor):
    def __init__(self, session_id: str, request: SessionRequest, conversation: Conversation,
                 deps: SessionDeps) -> None:
        self.session_id, self.request, self.conversation, self.deps = session_id, request, conversation, deps
        self.language = request.language
        judge = deps.engines.turn_model_name() is not None  # the end-of-turn model, when installed
        self.machine = SessionMachine(machine_config(deps.settings, request.language, judge_turns=judge,
                                                     caller_rate=request.audio.sample_rate))
        self._inbox: Inbox[SessionInput] = Inbox(INBOX_SIZE)
        self._outbox = Outbox(self.machine.is_cancelled, deps.metrics.dropped_events.inc)
        self._closed = asyncio.Event()
        self._finished = asyncio.Event()
        self._ended = False
        self._overflowing = False
        self._opened = time.monotonic()
        engines, metrics = deps.engines, deps.metrics
        self.metrics = metrics
        self._ears: CallerEars | None = None
        self.speech = SpeechTurns(engines, metrics, request.language)
        self.replies = ReplyWorker(engines, metrics, request.audio, self._tell, session_id=session_id,
                                   core_backend=deps.settings.core.backend)
        self.screen = ScreenWorker(engines, metrics, deps.settings.screen)
        self.sign = SignWorker(engines, metrics, self._tell)
        self._traces: dict[int, TurnTrace] = {}  # turns begun, not yet answered
        self._reply: tuple[int, asyncio.Task[None], TurnTrace] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._group: asyncio.TaskGroup | None = None
        self._sign_loop: asyncio.Task[None] | None = None
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=1000)
        # What was said so far (masked), for a person who takes the call over.
        self.transcript: collections.deque[TurnRecord] = collections.deque(maxlen=TRANSCRIPT_KEPT)
        self._runner: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ SessionPort

    def push(self, item: SessionInput) -> None:
        """Any caller input, from any transport; never blocks (overflow is one error per burst)."""
        if self._ended:
            return
        if isinstance(item, End):  # never dropped, even from a full inbox
            self._inbox.put_end(item)
        elif self._inbox.put(item):
            self._overflowing = False
        else:
            self.deps.metrics.dropped_inputs.labels(self.request.channel).inc()
            if not self._overflowing:
                self._overflowing = True
                self.emit_nowait(ErrorEvent("limit-exceeded",
                                            "input arrives faster than it can be handled; dropped"))

    def agent_say(self, agent_id: str, text: str) -> None:
        """A person's words to the caller: voiced and stored as the agent's turn."""
        self.push(AgentSays(agent_id, text))

    def events(self) -> AsyncIterator[SessionEvent]:
        return self._outbox.events()

    async def close(self, reason: str = "hangup") -> None:
        if not self._ended:
            self.push(End(reason))
        await self._closed.wait()

    async def emit(self, event: SessionEvent) -> None:
        await self._outbox.put(event)

    def emit_nowait(self, event: SessionEvent) -> None:
        self._outbox.put_nowait(event)

    @property
    def queue_depths(self) -> tuple[int, int]:
        """Inputs waiting to be handled, events waiting to be sent."""
        return self._inbox.qsize(), self._outbox.qsize()

    def watch(self, maxsize: int = 500) -> asyncio.Queue[SessionEvent]:
        return self._outbox.watch(maxsize)

    def unwatch(self, queue: asyncio.Queue[SessionEvent]) -> None:
        self._outbox.unwatch(queue)

    async def report(self, error: GatewayError) -> None:
        """An error in handling this session's input: counted, logged, sent, stored."""
        await self.emit(ErrorEvent(error.code, error.message))
        await self._note(error)

    async def refuse(self, error: GatewayError) -> None:
        """An input a transport could not take: reported without waiting on a stalled consumer."""
        self.emit_nowait(ErrorEvent(error.code, error.message))
        await self._note(error)

    async def _note(self, error: GatewayError) -> None:
        self.deps.metrics.errors.labels(error.code).inc()
        log_event(log, "session.error", session_id=self.session_id, code=error.code)  # never the message
        await self.deps.store.error(self.session_id, error.code, self.deps.mask(error.message))

    async def record(self, speaker: str, turn_id: int, modality: Modality | str, text: str, language: str,
                     timings: dict[str, float]) -> None:
        record = TurnRecord(self.session_id, turn_id, speaker, modality, self.deps.mask(text), language,
                            timings, time.time())
        self.transcript.append(record)
        await self.deps.store.turn(record)

    def trace_turn(self, modality: str) -> TurnTrace:
        return self.deps.tracing.turn(self.session_id, channel=self.request.channel,
                                      tenant=self.request.tenant, modality=modality)

    # ------------------------------------------------------------------ the loop

    def start(self) -> None:
        self._runner = asyncio.create_task(self.run(), name=f"session-{self.session_id}")

    async def run(self) -> None:
        reason = "ended"
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                try:
                    await self.deps.store.session_started(self.session_id, self.request.tenant,
                                                          self.request.channel, self.language,
                                                          caller=self.request.params.get("caller"))
                    await self.emit(SessionStarted(self.session_id, self.request.audio, self.language))
                    log_event(log, "session.started", session_id=self.session_id, tenant=self.request.tenant,
                              channel=self.request.channel, language=self.language)
                    reason = await self._loop()
                finally:
                    for task in self._tasks:
                        task.cancel()
        except Exception:  # a bug must not lose the transcript: log it and end cleanly
            log.exception("session %s failed", self.session_id)
            reason = "internal-error"
        finally:
            await self._shutdown(reason)

    async def _loop(self) -> str:
        idle = self.deps.settings.server.idle_timeout_s
        while True:
            try:
                async with asyncio.timeout(idle):  # not wait_for: it may swallow a cancel (3.11)
                    item = await self._inbox.get()
            except TimeoutError:
                item = End("idle-timeout")
            try:
                await self._handle(item)
            except GatewayError as exc:
                await self.report(exc)
            if isinstance(item, End):
                self._ended = True
                with contextlib.suppress(TimeoutError):  # speech in flight is transcribed first
                    async with asyncio.timeout(END_GRACE_S):
                        await self._finished.wait()
                return self.machine.ending or item.reason

    async def _handle(self, item: SessionInput) -> None:
        if not isinstance(item, AudioIn):
            await self._apply(self.machine.receive(item, time.monotonic()))
            return
        if self._ears is None:
            vad = await asyncio.to_thread(self.deps.engines.new_vad)
            keep_s = self.deps.settings.speech.max_turn_s + 2.0
            self._ears = CallerEars(vad, self.request.audio, keep_s=keep_s)
        windows = self._ears.hear(item.payload)
        self._arrivals.append((self._ears.media_ms, time.perf_counter()))
        for window in windows:
            await self._apply(self.machine.receive(window, time.monotonic()))

    async def _tell(self, result: Result) -> None:
        """A worker's result (or failure) back into the machine."""
        await self._apply(self.machine.receive(result, time.monotonic()))

    async def _apply(self, todo: list[Command]) -> None:
        for command in todo:
            await self.execute(command)

    def spawn(self, stage: Stage, turn_id: int | None, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._group is not None
        task = self._group.create_task(self._guard(stage, turn_id, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, stage: Stage, turn_id: int | None, work: Awaitable[None]) -> None:
        """The one error policy: whatever fails in a stage is reported through the machine."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._tell(WorkerFailed(stage, turn_id, as_gateway_error(exc, stage)))

    def start_sign_loop(self) -> None:
        if self._sign_loop is None:
            self._sign_loop = self.spawn("sign", None, self._supervise_sign())

    async def _supervise_sign(self) -> None:
        while True:  # a crashed worker is restarted, with a fresh pipeline
            try:
                await self.sign.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._tell(WorkerFailed("sign", None, as_gateway_error(exc, "sign")))
                await self.sign.restart()

    def arrival_of(self, media_ms: int) -> float:
        for at_ms, wall in self._arrivals:
            if at_ms >= media_ms:
                return wall
        return time.perf_counter()

    def finished(self) -> None:
        self._finished.set()

    async def _shutdown(self, reason: str) -> None:
        self._ended = True
        for trace in self._traces.values():  # the caller hung up before these turns were answered
            trace.set({"turn.abandoned": True})
            trace.end()
        self._traces.clear()
        if self._reply is not None:
            self._reply[2].end()
        await self.sign.aclose()
        self.screen.close()
        try:
            await self.conversation.aclose()
        finally:
            if self._ears is not None:
                self._ears.close()
            await self.deps.store.session_ended(self.session_id, reason)
            self.emit_nowait(SessionEnded(self.session_id, reason))
            log_event(log, "session.ended", session_id=self.session_id, reason=reason,
                      turns=self.machine.turns, seconds=round(time.monotonic() - self._opened, 1))
            self._closed.set()
