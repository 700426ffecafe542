"""The session as a pure state machine: `receive(input, now) -> list[Command]`.

No asyncio, no engines, no clocks of its own (`now` is passed in, for playout only). It owns:
- turn ids: given when a turn starts (speech start, screenshot arrival, a typed line, a sign
  turn, a person's words) and carried by every command and result of that turn;
- turn-taking: the endpointer (media time), the transcript hints that decide how long a pause
  must last, barge-in, and whether a reply is still audible (gateway.playout);
- which reply is audible and which turns are cancelled (their queued audio is dropped);
- which errors are reported: every failed stage is one `Report`, and the session goes on.

Rules (tests/session guards each):
- A reply is cut (audio.clear) by a barge-in, or by the reply to a later turn while it is still
  audible. Barge-in is speech that began after the reply began: a caller already mid-sentence when
  a typed line or a screenshot is answered is not interrupting that reply.
- While the turn would end if its words so far sounded finished (and, with an end-of-turn model,
  if the model agreed), caller audio is held until the pause's transcript (and the model's verdict)
  is known, so turn-taking is the same at any input or model speed. No reply starts before the
  turn has ended: the model's verdict only shortens the silence that ends it.
- Session end during speech finishes the turn: it is transcribed and stored, marked interrupted.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from contracts.text import has_cjk
from gateway.core.api import Handoff, TextTurn
from gateway.errors import LimitExceeded
from gateway.events import (
    AudioClear,
    Caption,
    CoreOutput,
    ReplyAudio,
    ReplyAudioEnd,
    TranscriptFinal,
    TranscriptPartial,
    TurnTiming,
)
from gateway.inputs import (
    AgentSays,
    AudioIn,
    BargeInRequest,
    DtmfIn,
    End,
    ImageIn,
    Played,
    SignConfirm,
    TextIn,
    VideoFrameIn,
)
from gateway.playout import Playout
from gateway.session.messages import (
    CloseSpeech,
    Command,
    ConfirmSign,
    Count,
    Emit,
    Finish,
    JudgeTurn,
    MachineInput,
    OpenSpeech,
    PrepareReply,
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
    SpeechGap,
    StartReply,
    StopReply,
    Transcribe,
    Transcribed,
    TurnJudged,
    VoiceWindow,
    WorkerFailed,
)
from gateway.session.sign_turns import read_sign
from modalities.speech.endpointing import (
    BargeIn,
    EndpointConfig,
    Endpointer,
    NoiseDiscarded,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    completeness,
)
from modalities.speech.repetition import cut_runaway

MAX_CANCELLED_REMEMBERED = 64
MAX_HELD_WINDOWS = 1000  # ~30 s of 32 ms windows held for a pause transcript; beyond, go on without it


@dataclass(frozen=True)
class MachineConfig:
    language: str = "auto"  # the session's language, or "auto": detected once (heard_language)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    transcribe_in_pauses: bool = True  # False: the conventional pipeline (whole turn after a fixed silence)
    judge_turns: bool = False  # an end-of-turn model judges each pause (JudgeTurn -> TurnJudged)
    # With judge_turns: a pause the model is sure is mid-sentence (p < turn_doubt) gets its ASR pass
    # only if its silence reaches end_complete_ms (a "?" ends the turn there whatever the model
    # says); shorter ones are covered by the next pass. At once when this much speech went by
    # without a pass. ASR passes are most of a caller's CPU. 0: every pause at once.
    skip_mid_sentence_pass_ms: int = 6000
    # Languages whose turns skip those passes: on Mandarin the skip measured slower replies and a
    # reply in a caller's pause (docs/benchmarks.md "Capacity, pause passes"), so English only.
    skip_mid_sentence_languages: tuple[str, ...] = ("en",)
    detect_above: float = 0.5  # language auto: a first detection this sure becomes the session's
    prepare_in_pauses: bool = True  # words that sound finished: the core starts on them (PrepareReply)


class SessionMachine:
    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        self.language = config.language
        self.heard_language: str | None = None  # language auto: what the caller speaks, once detected
        self.endpointer = Endpointer(config.endpoint)
        self.playout = Playout()
        self.media_ms = 0
        self._last_turn = 0
        self._cancelled: collections.deque[int] = collections.deque(maxlen=MAX_CANCELLED_REMEMBERED)
        # the speech turn being heard
        self._speech: int | None = None
        self._speech_start_ms = 0
        self._speech_end_ms = 0
        self._pause_end_ms = -1  # where the last pause began (for the transcriber's gap rule)
        self._awaited = -1  # the pause whose transcript may end the turn (-1: none awaited)
        self._judging = -1  # the pause whose end-of-turn verdict may end the turn (-1: none awaited)
        self._pass_due = -1  # a pause whose ASR pass waits for that verdict (-1: none)
        self._pass_skipped = -1  # a pause left without a pass on the model's word (-1: none)
        self._last_pass_ms = 0  # where the last ASR pass of this turn ended (media time)
        self._held: collections.deque[VoiceWindow] = collections.deque()
        self._finals: set[int] = set()  # speech turns over, their final transcript awaited
        # the reply
        self._reply: int | None = None  # the turn whose reply is (or was last) voiced
        self._reply_running = False  # its worker is still producing it
        self._reply_began_ms = 0  # caller media time when it began: speech from then on barges in
        self._last_reply: tuple[str, str] | None = None  # (text, language) for DTMF '#'
        self._screen_busy: int | None = None
        self._ending: str | None = None  # the reason, once End came while speech was still in flight
        self._interrupted: int | None = None
        self.finished = False

    # ------------------------------------------------------------------ queries

    @property
    def ending(self) -> str | None:
        """The reason the session is ending, once End arrived."""
        return self._ending

    @property
    def speech_language(self) -> str | None:
        """The language speech turns are decoded in: the session's, or with "auto" the one heard
        (None until then)."""
        return self.language if self.language != "auto" else self.heard_language

    @property
    def turns(self) -> int:
        return self._last_turn

    def is_cancelled(self, turn_id: int) -> bool:
        return turn_id in self._cancelled

    def reply_active(self, now: float) -> bool:
        """A reply is being prepared, or the caller is (probably) still hearing it."""
        return self._reply_running or self.playout.audible(now)

    # ------------------------------------------------------------------ input

    def receive(self, item: MachineInput, now: float) -> list[Command]:
        if self.finished:
            return []
        out: list[Command] = []
        if isinstance(item, VoiceWindow):
            self._window(item, now, out)
        elif isinstance(item, Transcribed):
            self._transcribed(item, now, out)
        elif isinstance(item, TurnJudged):
            if item.turn_id == self._speech and item.until_ms == self._judging:
                self.endpointer.judged(item.probability)
                self._judging = -1
                self._pass_after_verdict(item, out)
                self._release(now, out)
        elif isinstance(item, ReplySpoken):
            self._spoken(item, now, out)
        elif isinstance(item, ReplyOutput):
            out.append(Emit(CoreOutput(item.turn_id, item.event)))
            if isinstance(item.event, Handoff):
                out.append(Record("system", item.turn_id, "text", f"handoff: {item.event.reason}",
                                  self.language, {}))
        elif isinstance(item, ReplyDone):
            self._reply_done(item, out)
        elif isinstance(item, WorkerFailed):
            self._failed(item, now, out)
        elif isinstance(item, ScreenRead):
            if self._screen_busy == item.turn_id:
                self._screen_busy = None
            self._caller_turn(item.turn_id, item.turn, now, out)
        elif isinstance(item, SignSaw):
            self._sign(item, now, out)
        elif isinstance(item, AudioIn):  # the runner turns audio into VoiceWindows
            raise TypeError("AudioIn goes through the runner's VAD, not into the machine")
        else:
            self._caller(item, now, out)
        return out

    def _caller(self, item: MachineInput, now: float, out: list[Command]) -> None:
        if isinstance(item, TextIn):
            text = item.text.strip()
            self._caller_turn(self._next(), TextTurn(text, self._text_language(text), "text"), now, out)
        elif isinstance(item, DtmfIn):
            if item.digit == "#":
                if self._last_reply is not None:
                    text, language = self._last_reply
                    self._start_reply(Say(self._next(), text, language, "bot"), now, out)
            else:
                self._caller_turn(self._next(), TextTurn(item.digit, self.language, "dtmf"), now, out)
        elif isinstance(item, BargeInRequest):
            self._interrupt(self.media_ms, now, out)
        elif isinstance(item, Played):
            if item.turn_id == self._reply and not self._reply_running:
                self.playout.over()
        elif isinstance(item, ImageIn):
            if self._screen_busy is not None:
                out.append(Report(LimitExceeded(
                    "a screenshot is still being read; send the next one after its turn", code="image-busy")))
                return
            self._screen_busy = self._next()
            out.append(ReadScreen(self._screen_busy, item.data))
        elif isinstance(item, VideoFrameIn):
            out.append(SignFrame(item.data, item.media_time_ms))
        elif isinstance(item, SignConfirm):
            out.append(ConfirmSign(item.yes))
        elif isinstance(item, AgentSays):
            language = self.language if self.language != "auto" else self._text_language(item.text)
            self._start_reply(Say(self._next(), item.text, language, "agent"), now, out)
        elif isinstance(item, End):
            self._end(item.reason, out)

    def _next(self) -> int:
        self._last_turn += 1
        return self._last_turn

    def _text_language(self, text: str) -> str:
        if self.language != "auto":
            return self.language
        return "zh" if has_cjk(text) else "en"

    # ------------------------------------------------------------------ speech in

    def _hints_due(self) -> bool:
        """The turn would end now if the pause's transcript and verdict still to come allowed it."""
        text = self._awaited >= 0 or self._pass_due >= 0  # a pass made, or one the verdict may make
        return self.endpointer.waiting_for(text=text, model=self._judging >= 0)

    def _window(self, window: VoiceWindow, now: float, out: list[Command]) -> None:
        if self._held or self._hints_due():
            self._held.append(window)  # the pause's transcript (and verdict) decide whether it is over
            if len(self._held) <= MAX_HELD_WINDOWS:
                return
            self._awaited = self._judging = self._pass_due = -1  # too late: go on without them
            self._release(now, out)
            return
        self._feed(window, now, out)

    def _release(self, now: float, out: list[Command]) -> None:
        while self._held:
            if self._hints_due():
                return
            self._feed(self._held.popleft(), now, out)

    def _feed(self, window: VoiceWindow, now: float, out: list[Command]) -> None:
        self.media_ms = window.end_ms
        self.playout.media(window.end_ms, now)
        self._late_pass(window, out)
        ep = self.endpointer
        barges = not ep.in_turn or self._speech_start_ms >= self._reply_began_ms
        ep.reply_active = barges and self.reply_active(now)
        for event in ep.window(window.end_ms, window.duration_ms, window.probability):
            if isinstance(event, BargeIn):
                self._interrupt(event.at_ms, now, out)
            elif isinstance(event, SpeechStarted):
                self._speech, self._speech_start_ms = self._next(), event.start_ms
                self._pause_end_ms = self._awaited = self._judging = self._pass_due = -1
                self._pass_skipped, self._last_pass_ms = -1, event.start_ms
                language = self.speech_language
                out.append(OpenSpeech(self._speech, event.start_ms, language,
                                      guessed=self.language == "auto" and language is not None))
            elif self._speech is None:
                continue
            elif isinstance(event, PauseStarted):
                self._speech_end_ms = event.segment_end_ms
                if not self.config.transcribe_in_pauses:
                    ep.hint(True)  # the baseline: a fixed silence ends the turn, transcribed only then
                    continue
                self._pause_end_ms = event.segment_end_ms
                if self._pass_waits_for_verdict(event.segment_end_ms):
                    self._pass_due = event.segment_end_ms
                else:
                    self._pass(event.segment_end_ms, out)
                if self.config.judge_turns:
                    self._judging = event.segment_end_ms
                    out.append(JudgeTurn(self._speech, event.segment_end_ms, window.end_ms))
            elif isinstance(event, SpeechResumed):
                if self._pause_end_ms >= 0:
                    out.append(SpeechGap(self._speech, self._pause_end_ms, event.at_ms))
                # that pause's hints would come too late to end the turn; its pass, if still
                # waiting for the verdict, is left to the next pause
                self._awaited = self._judging = self._pass_due = self._pass_skipped = -1
            elif isinstance(event, TurnEnded):
                self._speech_end_ms = event.speech_end_ms
                self._finals.add(self._speech)
                out.append(Transcribe(self._speech, event.speech_end_ms, final=True,
                                      silence_ms=window.end_ms - event.speech_end_ms, ending=event))
                self._speech = None
            elif isinstance(event, NoiseDiscarded):
                out.append(CloseSpeech(self._speech, "noise"))
                self._speech = None

    def _late_pass(self, window: VoiceWindow, out: list[Command]) -> None:
        """A skipped pause whose silence reached end_complete_ms: the words may be a finished
        question ("?" ends a turn there whatever the model says), so they are transcribed now."""
        if (self._pass_skipped >= 0 and self._speech is not None
                and window.end_ms - self._pass_skipped >= self.config.endpoint.end_complete_ms):
            self._pass(self._pass_skipped, out)
            self._pass_skipped = -1

    def _pass_waits_for_verdict(self, pause_ms: int) -> bool:
        gap = self.config.skip_mid_sentence_pass_ms
        return (self.config.judge_turns and gap > 0 and pause_ms - self._last_pass_ms < gap
                and self.speech_language in self.config.skip_mid_sentence_languages)

    def _pass(self, pause_ms: int, out: list[Command]) -> None:
        """The pause's ASR pass; its transcript is a hint that may end the turn."""
        assert self._speech is not None
        self._awaited, self._last_pass_ms = pause_ms, pause_ms
        out.append(Transcribe(self._speech, pause_ms, final=False))

    def _pass_after_verdict(self, verdict: TurnJudged, out: list[Command]) -> None:
        """The pass held for this verdict: made unless the model is sure the caller goes on."""
        if self._pass_due != verdict.until_ms:
            return
        self._pass_due = -1
        p = verdict.probability
        if p is None or p >= self.config.endpoint.turn_doubt:
            self._pass(verdict.until_ms, out)
        else:
            self._pass_skipped = verdict.until_ms

    def _transcribed(self, result: Transcribed, now: float, out: list[Command]) -> None:
        if not result.final:
            if result.turn_id != self._speech:
                return  # a pause of a turn that is over since
            if result.until_ms == self._awaited:
                words = completeness(result.text)
                self.endpointer.hint(words)
                self._awaited = -1
                if words in ("unsure", "complete", "final") and self.config.prepare_in_pauses:
                    out.append(PrepareReply(result.turn_id, self._speech_turn(result)))
            if result.text:
                out.append(Emit(TranscriptPartial(result.turn_id, result.text, result.language)))
            self._release(now, out)
            return
        self._finals.discard(result.turn_id)
        if not result.text:  # a cough or a click: no turn, nothing to answer
            out.append(Count("empty_turns"))
            out.append(CloseSpeech(result.turn_id, "empty"))
        else:
            turn = self._speech_turn(result)
            if self._ending is not None:
                interrupted = result.turn_id == self._interrupted
                out.append(Emit(TranscriptFinal(result.turn_id, turn.text, turn.language, "speech")))
                timings = {"asr": result.asr_ms, **({"interrupted": 1.0} if interrupted else {})}
                out.append(Record("caller", result.turn_id, "speech", turn.text, turn.language, timings))
            else:
                self._caller_turn(result.turn_id, turn, now, out, speech_end_ms=result.until_ms,
                                  asr_ms=result.asr_ms)
            self._learn_language(result, out)
        self._maybe_finish(out)

    def _speech_turn(self, result: Transcribed) -> TextTurn:
        """The turn a transcript makes (ASR loops cut, flagged): the one a pause prepares is the
        one the turn's end answers when the words are the same."""
        language = result.language or self._text_language(result.text)
        return TextTurn(cut_runaway(result.text), language, "speech")

    def _learn_language(self, result: Transcribed, out: list[Command]) -> None:
        """Language auto: the first spoken language detected surely enough becomes the session's
        (later turns decode with it known: no wrong-language transcripts); a turn whose
        engine heard another language surely (the transcriber switched) moves the session to it."""
        if self.language != "auto" or not result.language or result.language == self.heard_language:
            return
        if self.heard_language is None and result.language_probability < self.config.detect_above:
            return  # unsure: the next turn detects again
        detected = self.heard_language is None
        note = (f"language {'detected' if detected else 'switched'}: {result.language} "
                f"(p={result.language_probability:.2f})")
        self.heard_language = result.language
        out.append(Count("language_detected" if detected else "language_switched"))
        out.append(Record("system", result.turn_id, "text", note, result.language, {}))

    # ------------------------------------------------------------------ turns and replies

    def _caller_turn(self, turn_id: int, turn: TextTurn, now: float, out: list[Command], *,
                     speech_end_ms: int | None = None, asr_ms: float = 0.0) -> None:
        """A caller turn is final: shown, stored, and answered (cutting an audible earlier reply).
        A runaway repetition (an ASR loop, or a pasted one) is cut and flagged before anything sees it."""
        turn = TextTurn(cut_runaway(turn.text), turn.language, turn.modality, turn.detail)
        out.append(Emit(TranscriptFinal(turn_id, turn.text, turn.language, turn.modality)))
        out.append(Record("caller", turn_id, turn.modality, turn.text, turn.language, {"asr": asr_ms}))
        self._start_reply(StartReply(turn_id, turn, speech_end_ms, asr_ms), now, out)

    def _start_reply(self, start: StartReply | Say, now: float, out: list[Command]) -> None:
        self._stop(now, out, reason="next-turn", at_ms=None)
        self._reply, self._reply_running, self._reply_began_ms = start.turn_id, True, self.media_ms
        self.playout.begin()
        out.append(start)

    def _interrupt(self, at_ms: int, now: float, out: list[Command]) -> None:
        if self.reply_active(now):
            out.append(Count("barge_ins"))
            self._stop(now, out, reason="barge-in", at_ms=at_ms)

    def _stop(self, now: float, out: list[Command], *, reason: str, at_ms: int | None) -> None:
        turn_id = self._reply
        if turn_id is not None and self.reply_active(now):
            out.append(StopReply(turn_id, "barge-in" if reason == "barge-in" else "next-turn"))
            self._cancelled.append(turn_id)
            out.append(Emit(AudioClear(turn_id, self.playout.media_ms if at_ms is None else at_ms)))
        self._reply_running = False
        self.playout.over()

    def _spoken(self, frame: ReplySpoken, now: float, out: list[Command]) -> None:
        if frame.turn_id != self._reply or frame.turn_id in self._cancelled:
            return  # a reply that was cut: its audio is not wanted
        if self.playout.start_ms is None and self.playout.sent_ms == 0:
            self.playout.first_frame()
        self.playout.sent(frame.frame_ms, now)
        out.append(Emit(ReplyAudio(frame.turn_id, frame.audio, frame.seq)))

    def _reply_done(self, done: ReplyDone, out: list[Command]) -> None:
        if done.turn_id in self._cancelled:
            return
        if done.turn_id == self._reply:
            self._reply_running = False
        out.append(Emit(ReplyAudioEnd(done.turn_id)))
        if done.text:
            self._last_reply = (done.text, done.language)
            out.append(Record(done.speaker, done.turn_id, "speech", done.text, done.language, done.timings))
        out.append(Emit(TurnTiming(done.turn_id, done.timings, done.latency_ms)))

    # ------------------------------------------------------------------ screen and sign

    def _sign(self, saw: SignSaw, now: float, out: list[Command]) -> None:
        for item in read_sign(saw.events):
            if isinstance(item, Caption):
                out.append(Emit(item))
            else:
                text, confidence = item
                turn = TextTurn(text, "en", "sign", {"confidence": confidence})
                self._caller_turn(self._next(), turn, now, out)

    # ------------------------------------------------------------------ errors and the end

    def _failed(self, failed: WorkerFailed, now: float, out: list[Command]) -> None:
        out.append(Report(failed.error))
        turn_id = failed.turn_id
        if failed.stage == "asr" and turn_id is not None:
            if turn_id in self._finals:  # the end-of-turn pass failed: the turn is lost
                self._finals.discard(turn_id)
                out.append(CloseSpeech(turn_id, "failed"))
            elif turn_id == self._speech:  # a pause pass failed: the turn goes on without its hint
                self._awaited = -1
                self._release(now, out)
        elif failed.stage == "turn" and turn_id == self._speech:  # no verdict: the pause rules decide
            self._judging = -1
            if self._pass_due >= 0:  # and the pass that waited for it is made
                self._pass(self._pass_due, out)
                self._pass_due = -1
            self._release(now, out)
        elif failed.stage == "screen" and turn_id == self._screen_busy:
            self._screen_busy = None
        elif failed.stage == "reply" and turn_id == self._reply:
            self._reply_running = False
        self._maybe_finish(out)

    def _end(self, reason: str, out: list[Command]) -> None:
        if self._ending is not None:
            return
        self._ending = reason
        self._held.clear()
        if self._speech is not None:  # the caller hung up mid-sentence: what they said is kept
            self._interrupted = self._speech
            self._finals.add(self._speech)
            out.append(Transcribe(self._speech, self.media_ms, final=True))
            self._speech = None
        self._maybe_finish(out)

    def _maybe_finish(self, out: list[Command]) -> None:
        if self._ending is not None and not self._finals and not self.finished:
            self.finished = True
            out.append(Finish(self._ending))
