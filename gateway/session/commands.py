"""What the runner does for each command of the machine: quick ones inline, stages as tasks.

Each turn's trace (gateway.tracing) is opened when its turn begins (first word, screenshot
arrival, a typed line) and ended by its reply, or marked when the turn ends without one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from gateway.errors import GatewayError
from gateway.logs import log_event
from gateway.session.messages import (
    CloseSpeech,
    Command,
    ConfirmSign,
    Count,
    Emit,
    Finish,
    JudgeTurn,
    OpenSpeech,
    PrepareReply,
    ReadScreen,
    Record,
    Report,
    Say,
    ScreenRead,
    SignFrame,
    SpeechGap,
    StartReply,
    StopReply,
    Transcribe,
    Transcribed,
    TurnJudged,
)
from gateway.session.reply import ReplyWorker, one_clause
from gateway.tracing import TurnTrace, untraced
from modalities.speech.transcriber import TurnText

log = logging.getLogger("gateway.session")

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine

    from gateway.core.api import Conversation
    from gateway.events import SessionEvent
    from gateway.metrics import Metrics
    from gateway.session.messages import Result, Stage
    from gateway.session.speech import CallerEars, SpeechTurns
    from gateway.session.visual import ScreenWorker, SignWorker


class Executor:
    """The runner's side of each command; gateway.session.runner.Session inherits it and defines
    what is declared here (so this module does not import the runner back)."""

    if TYPE_CHECKING:
        session_id: str
        language: str
        conversation: Conversation
        metrics: Metrics
        speech: SpeechTurns
        replies: ReplyWorker
        screen: ScreenWorker
        sign: SignWorker
        _ears: CallerEars | None
        _traces: dict[int, TurnTrace]
        _reply: tuple[int, asyncio.Task[None], TurnTrace] | None

        async def emit(self, event: SessionEvent) -> None: ...
        async def record(self, speaker: str, turn_id: int, modality: str, text: str, language: str,
                         timings: dict[str, float]) -> None: ...
        async def report(self, error: GatewayError) -> None: ...
        async def _tell(self, result: Result) -> None: ...
        def trace_turn(self, modality: str) -> TurnTrace: ...
        def spawn(self, stage: Stage, turn_id: int | None,
                  work: Coroutine[Any, Any, None]) -> asyncio.Task[None]: ...
        def start_sign_loop(self) -> None: ...
        def arrival_of(self, media_ms: int) -> float: ...
        def finished(self) -> None: ...

    async def execute(self, command: Command) -> None:
        await execute(self, command)


async def execute(s: Executor, command: Command) -> None:
    if isinstance(command, Emit):
        await s.emit(command.event)
    elif isinstance(command, Record):
        await s.record(command.speaker, command.turn_id, command.modality, command.text, command.language,
                       dict(command.timings))
    elif isinstance(command, Report):
        await s.report(command.error)
    elif isinstance(command, Count):
        if command.metric.startswith("language_"):
            s.metrics.session_language.labels(command.metric.removeprefix("language_")).inc()
        else:
            (s.metrics.barge_ins if command.metric == "barge_ins" else s.metrics.empty_turns).inc()
    elif isinstance(command, OpenSpeech):
        trace = s._traces.get(command.turn_id) or s.trace_turn("speech")  # from the first word
        trace.set({"turn.id": command.turn_id})
        s._traces[command.turn_id] = trace
        assert s._ears is not None
        s.speech.open(command.turn_id, s._ears, command.start_ms, command.language, trace,
                      guessed=command.guessed)
    elif isinstance(command, Transcribe):
        _transcribe(s, command)
    elif isinstance(command, JudgeTurn):
        assert s._ears is not None
        verdict = s.speech.judge(command.turn_id, s._ears, command.heard_ms)
        s.spawn("turn", command.turn_id, _judged(s, command, verdict))
    elif isinstance(command, SpeechGap):
        s.speech.resumed(command.turn_id, command.pause_end_ms, command.at_ms)
    elif isinstance(command, CloseSpeech):
        s.speech.close(command.turn_id)
        closed = s._traces.pop(command.turn_id) if command.turn_id in s._traces else None
        if closed is not None:
            closed.set({"turn.empty": True} if command.why == "empty" else {"turn.abandoned": True})
            closed.end()
    elif isinstance(command, ReadScreen):
        trace = s.trace_turn("screen")  # from arrival: reading the screenshot is part of the turn
        s._traces[command.turn_id] = trace
        s.spawn("screen", command.turn_id, _read_screen(s, command, trace))
    elif isinstance(command, SignFrame):
        s.start_sign_loop()
        s.sign.push(command.data, command.media_time_ms)
    elif isinstance(command, ConfirmSign):
        s.spawn("sign", None, s.sign.confirm(command.yes))
    elif isinstance(command, PrepareReply):
        s.spawn("reply", command.turn_id, _prepare(s, command))
    elif isinstance(command, StartReply):
        turn = command.turn
        known = s._traces.pop(command.turn_id) if command.turn_id in s._traces else None
        trace = known or s.trace_turn(turn.modality)
        prepared = turn.modality == "speech" and s.conversation.prepared(turn)
        if turn.modality == "speech":
            s.metrics.prepared_turns.labels("yes" if prepared else "no").inc()
        trace.set({"turn.id": command.turn_id, "turn.language": turn.language, "turn.prepared": prepared})
        wall = None if command.speech_end_ms is None else s.arrival_of(command.speech_end_ms)
        _reply(s, command.turn_id, trace, s.replies.voice(
            command.turn_id, s.conversation.respond(turn), turn.language, "bot", wall, command.asr_ms, trace))
    elif isinstance(command, Say):  # not a caller turn: no trace of its own
        _reply(s, command.turn_id, untraced(), s.replies.voice(
            command.turn_id, one_clause(command.text, command.language), command.language, command.speaker,
            None, 0.0, untraced()))
    elif isinstance(command, StopReply):
        if s._reply is not None and s._reply[0] == command.turn_id:
            _, task, trace = s._reply
            trace.interrupted(command.reason)
            task.cancel()
            trace.end()  # a task cancelled before it ran never reached its own end()
            s._reply = None
    elif isinstance(command, Finish):
        s.finished()


def _reply(s: Executor, turn_id: int, trace: TurnTrace, work: Awaitable[None]) -> None:
    async def run() -> None:
        await work

    s._reply = (turn_id, s.spawn("reply", turn_id, run()), trace)


def _transcribe(s: Executor, command: Transcribe) -> None:
    turn_id, until = command.turn_id, command.until_ms
    if command.final:
        trace = s._traces.get(turn_id)
        if trace is not None:
            trace.event("speech.end")
            trace.set({"turn.end_silence_ms": command.silence_ms})
        why = command.ending
        log_event(log, "speech.turn_end", session_id=s.session_id, turn_id=turn_id,
                  silence_ms=command.silence_ms, words=why.words if why else None,
                  turn_p=None if why is None or why.turn_p is None else round(why.turn_p, 2),
                  needed_ms=why.needed_ms if why else None,
                  longest_pause_ms=why.longest_pause_ms if why else None)
        pending = s.speech.finish(turn_id, until)
        s.spawn("asr", turn_id, _final(s, turn_id, until, pending))
    else:
        partial = s.speech.transcribe(turn_id, until)
        if partial is not None:
            s.spawn("asr", turn_id, _partial(s, turn_id, until, partial))


async def _partial(s: Executor, turn_id: int, until: int, pending: Awaitable[str]) -> None:
    text = await pending
    await s._tell(Transcribed(turn_id, until, text, s.speech.language(turn_id), final=False))


async def _judged(s: Executor, command: JudgeTurn, pending: Awaitable[float | None] | None) -> None:
    probability = None if pending is None else await pending
    await s._tell(TurnJudged(command.turn_id, command.until_ms, probability))


async def _final(s: Executor, turn_id: int, until: int, pending: Awaitable[TurnText] | None) -> None:
    result = TurnText("", "", 0.0) if pending is None else await pending
    await s._tell(Transcribed(turn_id, until, result.text, result.language, final=True, asr_ms=result.asr_ms,
                              language_probability=result.language_probability))


async def _prepare(s: Executor, command: PrepareReply) -> None:
    """Speculative: a failure here is the confirmed turn's to report (respond() reads again)."""
    try:
        await s.conversation.prepare(command.turn)
    except Exception:
        log.warning("prepare failed session=%s turn=%s", s.session_id, command.turn_id, exc_info=True)


async def _read_screen(s: Executor, command: ReadScreen, trace: TurnTrace) -> None:
    language = s.language if s.language != "auto" else "en"
    try:
        with trace.ends_on_error():
            turn = await s.screen.read(command.data, language, trace)
    except BaseException:
        s._traces.pop(command.turn_id, None)  # ended by ends_on_error; the machine reports the failure
        raise
    await s._tell(ScreenRead(command.turn_id, turn))
