"""Drives the pure SessionMachine with scripted inputs: recorded VAD traces (tests/session/traces,
Silero on samples/audio), a scripted ASR, core+TTS, OCR and sign stage. No asyncio, no engines.

Time is media time: every VAD window is one step of 32 ms, and `now` (the playout clock) is the
same media time in seconds. Workers answer between steps: the ASR and OCR at once, a reply at
`frames_per_step` frames of 20 ms per step (faster than real time, as TTS is). The client reads
the outbox after every step, dropping queued audio of cancelled turns as Session.events() does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.api import ReplyClause, TextTurn
from gateway.errors import BackendError, GatewayError
from gateway.events import (
    CANCELLABLE,
    AudioClear,
    Caption,
    CoreOutput,
    ErrorEvent,
    ReplyAudio,
    ReplyAudioEnd,
    SessionEvent,
    TranscriptFinal,
    TranscriptPartial,
    TurnTiming,
)
from gateway.inputs import End, SessionInput
from gateway.session.machine import MachineConfig, SessionMachine
from gateway.session.messages import (
    CloseSpeech,
    Command,
    ConfirmSign,
    Emit,
    Finish,
    JudgeTurn,
    MachineInput,
    ReadScreen,
    Record,
    ReplyDone,
    ReplyOutput,
    ReplySpoken,
    Report,
    Say,
    ScreenRead,
    SignFrame,
    SignSaw,
    StartReply,
    StopReply,
    Transcribe,
    Transcribed,
    TurnJudged,
    VoiceWindow,
    WorkerFailed,
)
from modalities.sign.events import SignEvent

TRACES = Path(__file__).parent / "traces"
WINDOW_MS = 32


def trace(name: str) -> list[float]:
    return list(json.loads((TRACES / f"{name}.json").read_text(encoding="utf-8"))["probabilities"])


def silence(seconds: float) -> list[float]:
    return [0.0] * int(seconds * 1000 / WINDOW_MS)


class Crash(Exception):
    """A scripted stage failure that is not a GatewayError (a bug, a dead worker)."""


AsrScript = Callable[[int, int, bool], str]  # (turn_id, until_ms, final) -> text; may raise
JudgeScript = Callable[[int, int], float | None]  # (turn_id, pause until_ms) -> end-of-turn p; may raise
QUESTION = "How long do I have to return an item?"


def growing_question(turn_id: int, until_ms: int, final: bool) -> str:
    """What Whisper hears of en_question_returns at each pause: the words so far."""
    return "How long do I have" if until_ms < 1200 and not final else QUESTION


@dataclass
class Harness:
    asr: AsrScript = growing_question
    reply_frames: int = 10  # frames per reply (0.2 s of audio)
    frames_per_step: int = 4
    asr_delay_steps: int = 0  # a slow ASR: pause transcripts arrive this many steps later
    judge: JudgeScript | None = None  # the end-of-turn model (set config.judge_turns too)
    judge_delay_steps: int = 0  # a slow model: verdicts arrive this many steps later
    tts_fails: set[int] = field(default_factory=set)  # turn ids whose voice fails
    core_fails: set[int] = field(default_factory=set)  # turn ids whose reply stage crashes
    ocr: Callable[[bytes], TextTurn] = lambda data: TextTurn("Order 1234: shipped", "en", "screen")
    sign: Callable[[bytes, int], list[SignEvent]] = lambda data, t: []
    config: MachineConfig = field(default_factory=lambda: MachineConfig(language="en"))

    def __post_init__(self) -> None:
        self.machine = SessionMachine(self.config)
        self.media_ms = 0
        self.outbox: list[SessionEvent] = []
        self.delivered: list[SessionEvent] = []
        self.records: list[Record] = []
        self.commands: list[Command] = []
        self.finished: str | None = None
        self._replies: dict[int, list[MachineInput]] = {}  # turn id -> what its worker still has to say
        self._later: list[MachineInput] = []  # results that arrive at the next step
        self._slow: list[tuple[int, MachineInput]] = []  # (steps to wait, result)

    # ------------------------------------------------------------------ driving

    def window(self, probability: float) -> None:
        self.media_ms += WINDOW_MS
        self._give(VoiceWindow(self.media_ms, WINDOW_MS, probability))
        self._step()

    def speak(self, probabilities: list[float]) -> None:
        for p in probabilities:
            self.window(p)

    def send(self, item: SessionInput) -> None:
        self._give(item)
        self._step()

    def end(self, reason: str = "hangup", steps: int = 5) -> None:
        self._give(End(reason))
        for _ in range(steps):
            self._step()

    def idle(self, seconds: float) -> None:
        """Caller silence: media time runs (the client keeps sending silent frames)."""
        self.speak(silence(seconds))

    def wait(self, steps: int) -> None:
        """No audio arrives (a client that sent its audio faster than real time and stopped), while
        the workers go on delivering their results."""
        for _ in range(steps):
            self._step()

    # ------------------------------------------------------------------ the workers

    def _give(self, item: MachineInput) -> None:
        todo = self.machine.receive(item, self.media_ms / 1000)
        for command in todo:
            self._do(command)

    def _step(self) -> None:
        later, self._later = self._later, []
        self._slow = [(n - 1, r) for n, r in self._slow]
        later += [r for n, r in self._slow if n <= 0]
        self._slow = [(n, r) for n, r in self._slow if n > 0]
        for result in later:
            self._give(result)
        for turn_id in list(self._replies):
            queue = self._replies[turn_id]
            for _ in range(self.frames_per_step):
                if not queue:
                    break
                self._give(queue.pop(0))
            if not queue:
                self._replies.pop(turn_id, None)
        self._read()

    def _read(self) -> None:
        queued, self.outbox = self.outbox, []
        for event in queued:
            if isinstance(event, CANCELLABLE) and self.machine.is_cancelled(event.turn_id):
                continue
            self.delivered.append(event)

    def _do(self, command: Command) -> None:
        self.commands.append(command)
        if isinstance(command, Emit):
            self.outbox.append(command.event)
        elif isinstance(command, Report):
            self.outbox.append(ErrorEvent(command.error.code, command.error.message))
        elif isinstance(command, Record):
            self.records.append(command)
        elif isinstance(command, Transcribe):
            try:
                text = self.asr(command.turn_id, command.until_ms, command.final)
            except Crash:
                error = BackendError("speech recognition failed", code="asr-failed")
                self._later.append(WorkerFailed("asr", command.turn_id, error))
                return
            result = Transcribed(command.turn_id, command.until_ms, text, "en" if text else "", command.final)
            if command.final:
                self._later.append(result)
            else:
                self._slow.append((self.asr_delay_steps, result))
        elif isinstance(command, JudgeTurn):
            assert self.judge is not None, "the machine asked a model it was not given"
            try:
                verdict: MachineInput = TurnJudged(command.turn_id, command.until_ms,
                                                   self.judge(command.turn_id, command.until_ms))
            except Crash:
                verdict = WorkerFailed("turn", command.turn_id, GatewayError("the model crashed"))
            self._slow.append((self.judge_delay_steps, verdict))
        elif isinstance(command, ReadScreen):
            try:
                self._later.append(ScreenRead(command.turn_id, self.ocr(command.data)))
            except Crash:
                self._later.append(WorkerFailed("screen", command.turn_id, GatewayError("ocr crashed")))
        elif isinstance(command, SignFrame | ConfirmSign):
            try:
                events = [] if isinstance(command, ConfirmSign) else self.sign(command.data,
                                                                                   command.media_time_ms)
                self._later.append(SignSaw(tuple(events)))
            except Crash:
                self._later.append(WorkerFailed("sign", None, GatewayError("sign crashed")))
        elif isinstance(command, StartReply | Say):
            self._replies[command.turn_id] = self._reply(command)
        elif isinstance(command, StopReply):
            self._replies.pop(command.turn_id, None)  # the worker is cancelled: it says no more
        elif isinstance(command, Finish):
            self.finished = command.reason
        elif isinstance(command, CloseSpeech):
            pass

    def _reply(self, command: StartReply | Say) -> list[MachineInput]:
        turn_id = command.turn_id
        if turn_id in self.core_fails:
            return [WorkerFailed("reply", turn_id, GatewayError("the core crashed"))]
        text = command.text if isinstance(command, Say) else f"Answer to {command.turn.text}"
        out: list[MachineInput] = [ReplyOutput(turn_id, ReplyClause(text, "en", final=True))]
        if turn_id in self.tts_fails:
            failed = BackendError("speech synthesis failed", code="tts-failed")
            out.append(WorkerFailed("tts", turn_id, failed))
        else:
            out += [ReplySpoken(turn_id, b"\0" * 640, seq) for seq in range(self.reply_frames)]
        speaker = "bot" if isinstance(command, StartReply) else command.speaker
        out.append(ReplyDone(turn_id, speaker, text, "en", {"asr": 0.0}, None))
        return out

    # ------------------------------------------------------------------ reading the result

    def snapshot(self) -> list[str]:
        """The delivered events, compact: runs of reply audio of one turn are one line."""
        lines: list[str] = []
        for event in self.delivered:
            line = describe(event)
            if line.startswith("audio ") and lines and lines[-1].startswith(line + " x"):
                n = int(lines[-1].rsplit("x", 1)[1])
                lines[-1] = f"{line} x{n + 1}"
            elif line.startswith("audio "):
                lines.append(f"{line} x1")
            else:
                lines.append(line)
        return lines

    def audio_frames(self, turn_id: int) -> int:
        return sum(1 for e in self.delivered if isinstance(e, ReplyAudio) and e.turn_id == turn_id)


def describe(event: SessionEvent) -> str:
    if isinstance(event, TranscriptPartial):
        return f"partial {event.turn_id} {event.text!r}"
    if isinstance(event, TranscriptFinal):
        return f"final {event.turn_id} {event.modality} {event.text!r}"
    if isinstance(event, CoreOutput):
        return f"reply {event.turn_id}"
    if isinstance(event, ReplyAudio):
        return f"audio {event.turn_id}"
    if isinstance(event, ReplyAudioEnd):
        return f"audio.end {event.turn_id}"
    if isinstance(event, AudioClear):
        return f"clear {event.turn_id}"
    if isinstance(event, TurnTiming):
        return f"timing {event.turn_id}"
    if isinstance(event, ErrorEvent):
        return f"error {event.code}"
    if isinstance(event, Caption):
        return f"caption {event.kind} {event.text}"
    return type(event).__name__
