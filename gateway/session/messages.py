"""What goes into the session machine and what comes out of it: closed sets of frozen dataclasses.

Inputs are the caller's (gateway.inputs, from any transport) plus the results of the work the
machine asked for, each stamped with the turn id the machine gave it. Commands are what the
runner does for the machine: emit an event, store a turn, start or stop a stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gateway.core.api import CoreEvent, TextTurn
from gateway.errors import GatewayError
from gateway.events import SessionEvent
from gateway.inputs import SessionInput
from modalities.sign.events import SignEvent
from modalities.speech.endpointing import TurnEnded

Stage = Literal["asr", "tts", "reply", "screen", "sign", "turn"]
Speaker = Literal["caller", "bot", "agent", "system"]
Counted = Literal["barge_ins", "empty_turns", "language_detected", "language_switched"]

# ---------------------------------------------------------------- results (inputs from the runner)


@dataclass(frozen=True)
class VoiceWindow:
    """One VAD window of caller audio, in media time (the count of samples heard)."""

    end_ms: int
    duration_ms: int
    probability: float


@dataclass(frozen=True)
class Transcribed:
    """The transcript of speech turn `turn_id` up to `until_ms`; `final` once the turn is over."""

    turn_id: int
    until_ms: int
    text: str
    language: str
    final: bool
    asr_ms: float = 0.0  # ASR time after the end of speech (what the caller waited for)
    language_probability: float = 1.0  # the detection's confidence (1.0: the language was given)


@dataclass(frozen=True)
class TurnJudged:
    """The end-of-turn model's verdict on the pause of speech turn `turn_id` that began at
    `until_ms`: the probability that the caller has finished (None: no verdict)."""

    turn_id: int
    until_ms: int
    probability: float | None


@dataclass(frozen=True)
class ScreenRead:
    turn_id: int
    turn: TextTurn


@dataclass(frozen=True)
class SignSaw:
    """What the sign pipeline recognised in one frame (or in a read-back answer)."""

    events: tuple[SignEvent, ...]


@dataclass(frozen=True)
class ReplyOutput:
    """The conversation core said something for this turn (a clause, a handoff, a state)."""

    turn_id: int
    event: CoreEvent


@dataclass(frozen=True)
class ReplySpoken:
    """One frame of reply audio, ready to send; the machine decides whether it is still wanted."""

    turn_id: int
    audio: bytes
    seq: int
    frame_ms: float = 20.0


@dataclass(frozen=True)
class ReplyDone:
    """The reply worker finished voicing this turn's reply (all its audio was handed over)."""

    turn_id: int
    speaker: Speaker
    text: str
    language: str
    timings: Mapping[str, float] = field(default_factory=dict)
    latency_ms: float | None = None  # end of caller speech to first reply audio (speech turns)


@dataclass(frozen=True)
class WorkerFailed:
    """A stage failed; `turn_id` is None for a stage that serves no one turn (the sign stream)."""

    stage: Stage
    turn_id: int | None
    error: GatewayError


Result = (VoiceWindow | Transcribed | TurnJudged | ScreenRead | SignSaw | ReplyOutput | ReplySpoken
          | ReplyDone | WorkerFailed)
MachineInput = SessionInput | Result

# ---------------------------------------------------------------- commands (outputs to the runner)


@dataclass(frozen=True)
class Emit:
    event: SessionEvent


@dataclass(frozen=True)
class Record:
    """A turn for the transcript (memory and store)."""

    speaker: Speaker
    turn_id: int
    modality: str
    text: str
    language: str
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """An error in handling the caller's input: an error event, counted, logged, stored."""

    error: GatewayError


@dataclass(frozen=True)
class Count:
    metric: Counted


@dataclass(frozen=True)
class OpenSpeech:
    """A speech turn began at `start_ms`: its transcription starts (language None: detect)."""

    turn_id: int
    start_ms: int
    language: str | None
    guessed: bool = False  # the session's detected language, not the caller's: the turn may switch


@dataclass(frozen=True)
class Transcribe:
    turn_id: int
    until_ms: int
    final: bool
    silence_ms: int = 0  # a final pass: the silence after which the turn was judged over
    ending: TurnEnded | None = None  # ... and why then (logged; endpointing.TurnEnded)


@dataclass(frozen=True)
class JudgeTurn:
    """Ask the end-of-turn model about the pause that began at `until_ms`: the turn's audio from
    its start to `heard_ms` (the media time now, so the pause's first silence is included)."""

    turn_id: int
    until_ms: int
    heard_ms: int


@dataclass(frozen=True)
class SpeechGap:
    """Speech went on at `at_ms` after the pause that began at `pause_end_ms`."""

    turn_id: int
    pause_end_ms: int
    at_ms: int


@dataclass(frozen=True)
class CloseSpeech:
    """The speech turn is over without an answer (noise, nothing heard, failed, abandoned)."""

    turn_id: int
    why: Literal["noise", "empty", "failed", "abandoned"]


@dataclass(frozen=True)
class ReadScreen:
    turn_id: int
    data: bytes


@dataclass(frozen=True)
class SignFrame:
    data: bytes
    media_time_ms: int


@dataclass(frozen=True)
class ConfirmSign:
    yes: bool


@dataclass(frozen=True)
class StartReply:
    """The core answers the caller's turn and the answer is voiced."""

    turn_id: int
    turn: TextTurn
    speech_end_ms: int | None = None  # media time the caller stopped speaking (speech turns)
    asr_ms: float = 0.0


@dataclass(frozen=True)
class PrepareReply:
    """The caller may have finished on these words (a pause after words that sound finished):
    the core may start the pure part of answering them. Nothing is said or stored for it."""

    turn_id: int
    turn: TextTurn


@dataclass(frozen=True)
class Say:
    """Voices a given text, no core involved (a person's words, a repeat of the last reply)."""

    turn_id: int
    text: str
    language: str
    speaker: Speaker


@dataclass(frozen=True)
class StopReply:
    turn_id: int
    reason: Literal["barge-in", "next-turn"]


@dataclass(frozen=True)
class Finish:
    """The session is over: stop every stage, close engines, store the end."""

    reason: str


Command = (Emit | Record | Report | Count | OpenSpeech | Transcribe | JudgeTurn | SpeechGap | CloseSpeech
           | ReadScreen | SignFrame | ConfirmSign | PrepareReply | StartReply | Say | StopReply | Finish)
