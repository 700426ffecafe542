"""Turn-taking as a pure state machine driven by media time (no clocks, no I/O).

Fed one VAD window at a time, it finds where caller speech starts, pauses and ends, and when a
caller talking over a reply should stop it (barge-in). A pause is where the pipeline transcribes
the speech so far; whether the words so far sound finished (a hint from the transcript) decides
how long the silence must last before the turn ends: short after a finished sentence, long after
"and so, my fellow Americans," so that mid-sentence pauses are never answered. A caller who has
already paused and gone on within this turn is given at least `pause_factor` times that pause
before a finished-sounding sentence ends the turn: speakers keep their rhythm, and a speaker who
paused a second mid-sentence is not answered in their next 0.7 s breath.

A learned end-of-turn model (when the session has one) judges the audio of each pause too:
when it and the words agree that the turn is over, `end_confident_ms` of silence ends it, however
long the caller paused before; when it is sure the caller is mid-sentence (p < turn_doubt) a
finished-looking sentence waits the long silence; in between, the rules above decide. It never
ends a turn whose words sound unfinished. A sentence-final marker ("?", Mandarin 吗/呢/吧) skips
the rhythm rule, unless the model is sure the caller is mid-sentence: then the rhythm rule stands.

| words \\ model p        | >= turn_threshold | doubtful, absent, failed | < turn_doubt      |
|-----------------------|-------------------|--------------------------|-------------------|
| announced ("我想问")   | end_unfinished_ms | end_unfinished_ms        | end_unfinished_ms |
| opening ("Hello.")    | end_incomplete_ms | end_incomplete_ms        | end_incomplete_ms |
| unfinished            | end_incomplete_ms | end_incomplete_ms        | end_unfinished_ms |
| unknown (***)         | end_incomplete_ms | end_incomplete_ms        | end_unfinished_ms |
| unsure (*)            | end_confident_ms  | end_incomplete_ms        | end_incomplete_ms |
| finished              | end_confident_ms  | pause rule (**)          | end_incomplete_ms |
| final ("?", 吗)       | end_confident_ms  | end_complete_ms          | pause rule (**)   |

(*) no full stop (Whisper often leaves a short last piece unpunctuated), or one or two words
("The grass.", "Come quickly."). (**) end_complete_ms, stretched to pause_factor x the caller's
longest pause in this turn. (***) no transcript of the pause yet: a pause the model is sure is
mid-sentence is transcribed only once its silence reaches end_complete_ms
(MachineConfig.skip_mid_sentence_pass_ms); until then the verdict stands in for "unfinished".
"""

from __future__ import annotations

from dataclasses import dataclass

from modalities.speech.completeness import Completeness
from modalities.speech.completeness import completeness as completeness  # re-exported
from modalities.speech.completeness import sounds_complete as sounds_complete  # re-exported


@dataclass(frozen=True)
class EndpointConfig:
    threshold: float = 0.5  # VAD probability that counts as voiced
    min_speech_ms: int = 120  # voiced time needed before a turn exists (shorter is a click or cough)
    pause_ms: int = 160  # silence that marks a pause (a place to transcribe the segment)
    end_complete_ms: int = 450  # silence that ends a turn whose words sound finished
    end_incomplete_ms: int = 1400  # silence that ends a turn whose words sound unfinished
    max_turn_ms: int = 30_000  # a turn is cut here even while the caller keeps talking
    barge_in_ms: int = 120  # voiced time during a reply that stops the reply
    pause_factor: float = 0.75  # finished-sounding turns wait this times the caller's longest pause
    end_confident_ms: int = 200  # silence that ends a turn when the words and the model agree
    turn_threshold: float = 0.7  # end-of-turn model probability that counts as "finished"
    turn_doubt: float = 0.1  # below it the model is sure the caller is mid-sentence
    end_unfinished_ms: int = 2000  # silence that ends a turn both the words and the model call unfinished


@dataclass(frozen=True)
class SpeechStarted:
    start_ms: int  # media time of the first voiced window


@dataclass(frozen=True)
class PauseStarted:
    """Speech paused; audio [segment_start_ms, segment_end_ms) is a segment worth transcribing."""

    segment_start_ms: int
    segment_end_ms: int


@dataclass(frozen=True)
class SpeechResumed:
    at_ms: int


@dataclass(frozen=True)
class TurnEnded:
    start_ms: int
    speech_end_ms: int  # media time of the end of the last voiced window
    reason: str  # "silence" | "max-length"
    # Why then (for the log; never the words themselves): how finished the words read, the
    # end-of-turn model's verdict, the silence that was needed, the caller's longest pause.
    words: Completeness | None = None
    turn_p: float | None = None
    needed_ms: int = 0
    longest_pause_ms: int = 0


@dataclass(frozen=True)
class BargeIn:
    at_ms: int


@dataclass(frozen=True)
class NoiseDiscarded:
    start_ms: int
    end_ms: int


EndpointEvent = SpeechStarted | PauseStarted | SpeechResumed | TurnEnded | BargeIn | NoiseDiscarded


class Endpointer:
    """Call `window(end_ms, probability)` for each VAD window in order; it returns events.

    `hint(words)` tells it how finished the transcript so far reads (None: not known), and
    `judged(p)` what the end-of-turn model thinks of the pause (None: no verdict).
    `reply_active` is set by the session while a reply is being played to the caller.
    """

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.reply_active = False
        self._reset_turn()
        self._barge_voiced_ms = 0

    def _reset_turn(self) -> None:
        self._in_turn = False
        self._turn_start = 0
        self._voiced_ms = 0  # voiced time in the current turn
        self._speaking = False
        self._speech_end = 0
        self._segment_start = 0
        self._silence_ms = 0
        self._paused = False
        self._complete: Completeness | None = None
        self._turn_p: float | None = None
        self._longest_pause_ms = 0  # longest silence in this turn after which the caller went on

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    @property
    def awaiting_hint(self) -> bool:
        """True when the turn would end now if the words were known to be finished."""
        return self.waiting_for(text=self._complete is None, model=False)

    def waiting_for(self, *, text: bool, model: bool) -> bool:
        """True when the turn would end now if the hints still to come (the pause's transcript,
        the model's verdict) were favourable, but does not end on what is known."""
        if not (self._in_turn and self._paused and (text or model)):
            return False
        best = self._needed("final" if text else self._complete, 1.0 if model else self._turn_p)
        return best <= self._silence_ms < self._needed(self._complete, self._turn_p)

    def _needed(self, words: Completeness | None, p: float | None) -> int:
        """The silence that ends the turn, given the words and the model's verdict (table above)."""
        cfg = self.config
        if words == "announced":  # "I want to ask ..." : the question is still to come
            return max(cfg.end_incomplete_ms, cfg.end_unfinished_ms)
        if words == "opening":  # "Hello." and a breath: the question usually follows
            return cfg.end_incomplete_ms
        if words is None or words == "incomplete":
            sure = p is not None and p < cfg.turn_doubt
            return max(cfg.end_incomplete_ms, cfg.end_unfinished_ms) if sure else cfg.end_incomplete_ms
        if p is not None and p >= cfg.turn_threshold:
            return min(cfg.end_confident_ms, cfg.end_complete_ms)
        if words == "unsure":
            return cfg.end_incomplete_ms
        if words == "final":
            # A question mark outweighs the model's doubt, but not its doubt and the caller's own
            # rhythm together: "... what your country can do for you?" after a 1 s pause earlier
            # in the turn, the model sure the caller goes on (p 0.05), is a 0.5 s breath.
            doubted = p is not None and p < cfg.turn_doubt
            return self._complete_silence_ms() if doubted else cfg.end_complete_ms
        if p is not None and p < cfg.turn_doubt:
            return cfg.end_incomplete_ms
        return self._complete_silence_ms()

    def _complete_silence_ms(self) -> int:
        cfg = self.config
        adaptive = int(cfg.pause_factor * self._longest_pause_ms)
        return max(cfg.end_complete_ms, min(cfg.end_incomplete_ms, adaptive))

    def hint(self, words: Completeness | bool | None) -> None:
        if isinstance(words, bool):
            words = "complete" if words else "incomplete"
        self._complete = words

    def judged(self, probability: float | None) -> None:
        self._turn_p = probability

    def window(self, end_ms: int, duration_ms: int, probability: float) -> list[EndpointEvent]:
        cfg = self.config
        voiced = probability >= cfg.threshold
        events: list[EndpointEvent] = []
        start_ms = end_ms - duration_ms
        if self.reply_active:
            self._barge_voiced_ms = self._barge_voiced_ms + duration_ms if voiced else 0
            if self._barge_voiced_ms >= cfg.barge_in_ms:
                self.reply_active = False
                self._barge_voiced_ms = 0
                events.append(BargeIn(end_ms))
        else:
            self._barge_voiced_ms = 0
        if voiced:
            if not self._speaking:
                self._speaking = True
                if not self._in_turn:
                    self._in_turn = True
                    self._turn_start = start_ms
                    self._segment_start = start_ms
                    self._voiced_ms = 0
                    events.append(SpeechStarted(start_ms))
                elif self._paused:
                    self._longest_pause_ms = max(self._longest_pause_ms, self._silence_ms)
                    self._paused = False
                    self._segment_start = start_ms
                    self._complete, self._turn_p = None, None
                    events.append(SpeechResumed(start_ms))
            self._voiced_ms += duration_ms
            self._silence_ms = 0
            self._speech_end = end_ms
        elif self._in_turn:
            self._speaking = False
            self._silence_ms += duration_ms
            if self._voiced_ms < cfg.min_speech_ms and self._silence_ms >= cfg.pause_ms:
                events.append(NoiseDiscarded(self._turn_start, self._speech_end))
                self._reset_turn()
                return events
            if not self._paused and self._silence_ms >= cfg.pause_ms:
                self._paused = True
                events.append(PauseStarted(self._segment_start, self._speech_end))
            needed = self._needed(self._complete, self._turn_p)
            if self._paused and self._silence_ms >= needed:
                events.append(TurnEnded(self._turn_start, self._speech_end, "silence", self._complete,
                                        self._turn_p, needed, self._longest_pause_ms))
                self._reset_turn()
                return events
        if self._in_turn and end_ms - self._turn_start >= cfg.max_turn_ms:
            if not self._paused:
                events.append(PauseStarted(self._segment_start, end_ms))
            events.append(TurnEnded(self._turn_start, self._speech_end, "max-length", self._complete,
                                    self._turn_p, cfg.max_turn_ms, self._longest_pause_ms))
            self._reset_turn()
        return events
