"""Turn-taking as a pure state machine driven by media time (no clocks, no I/O).

Fed one VAD window at a time, it finds where caller speech starts, pauses and ends, and when a
caller talking over a reply should stop it (barge-in). A pause is where the pipeline transcribes
the speech so far; whether the words so far sound finished (a hint from the transcript) decides
how long the silence must last before the turn ends: short after a finished sentence, long after
"and so, my fellow Americans," so that mid-sentence pauses are never answered. A caller who has
already paused and gone on within this turn is given at least `pause_factor` times that pause
before a finished-sounding sentence ends the turn: speakers keep their rhythm, and a speaker who
paused a second mid-sentence is not answered in their next 0.7 s breath.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    `hint(complete)` tells it whether the transcript so far sounds finished (None: not known yet).
    `reply_active` is set by the session while a reply is being played to the caller.
    """

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.reply_active = False
        self._complete: bool | None = None
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
        self._complete = None
        self._longest_pause_ms = 0  # longest silence in this turn after which the caller went on

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    @property
    def awaiting_hint(self) -> bool:
        """True when the turn would end now if the words were known to be finished."""
        return (self._in_turn and self._paused and self._complete is None
                and self._silence_ms >= self._complete_silence_ms())

    def _complete_silence_ms(self) -> int:
        cfg = self.config
        adaptive = int(cfg.pause_factor * self._longest_pause_ms)
        return max(cfg.end_complete_ms, min(cfg.end_incomplete_ms, adaptive))

    def hint(self, complete: bool | None) -> None:
        self._complete = complete

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
                    self._complete = None
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
            needed = cfg.end_incomplete_ms if self._complete is not True else self._complete_silence_ms()
            if self._paused and self._silence_ms >= needed:
                events.append(TurnEnded(self._turn_start, self._speech_end, "silence"))
                self._reset_turn()
                return events
        if self._in_turn and end_ms - self._turn_start >= cfg.max_turn_ms:
            if not self._paused:
                events.append(PauseStarted(self._segment_start, end_ms))
            events.append(TurnEnded(self._turn_start, self._speech_end, "max-length"))
            self._reset_turn()
        return events


# Words after which a sentence cannot be over, in the languages the gateway speaks.
_CONTINUATIONS = frozenset((
    "and", "or", "but", "so", "because", "the", "a", "an", "to", "of", "my", "your", "our", "their",
    "his", "her", "its", "with", "for", "in", "on", "at", "if", "that", "which", "who", "when",
    "while", "than", "then", "as", "like", "about", "from", "into", "um", "uh", "er"))
_CONTINUATIONS_ZH = ("和", "跟", "但是", "因为", "所以", "的", "而且", "还有", "如果", "就是",
                     "然后", "我想", "请问", "那个", "嗯")
# Short replies that are whole turns on their own.
_SHORT_TURNS = frozenset((
    "yes", "no", "yeah", "yep", "nope", "ok", "okay", "sure", "thanks", "thank you", "hello", "hi",
    "bye", "goodbye", "agent", "operator", "representative", "help", "stop", "repeat", "correct",
    "right", "wrong", "please", "human", "person"))
# A few verbs and auxiliaries: a sentence opening with "and"/"so"/"but" with none of them (nor a
# word in -ed/-ing/-n't) is a fragment still waiting for its verb ("And so, my fellow Americans.").
_VERBS = frozenset((
    "is", "are", "was", "were", "be", "been", "am", "do", "does", "did", "have", "has", "had", "can",
    "could", "will", "would", "should", "shall", "may", "might", "must", "want", "need", "get", "got",
    "go", "went", "make", "made", "know", "think", "see", "take", "give", "tell", "ask", "return",
    "send", "ship", "pay", "paid", "order", "cancel", "change", "help", "buy", "bought", "like",
    "let", "call", "check", "find", "keep", "says", "said", "came", "come", "arrived", "work"))
_FRAGMENT_OPENERS = ("and", "so", "but", "or", "because", "well")
_FINAL_PUNCT = ".?!。？！"
_OPEN_PUNCT = ",;:，；：、…-—"


def sounds_complete(text: str) -> bool | None:
    """Whether a transcript reads as a finished utterance; None when there is nothing to judge.

    Whisper punctuates finished sentences, so missing final punctuation, a trailing comma or a
    dangling function word means the caller is mid-sentence; a question mark means they are done.
    """
    stripped = text.strip().strip("\"'“”")
    if not stripped:
        return None
    if stripped.endswith("...") or stripped[-1] in _OPEN_PUNCT:
        return False
    if stripped[-1] in "?？":
        return True
    body = stripped.rstrip(_FINAL_PUNCT).strip()
    if body.endswith(_CONTINUATIONS_ZH):
        return False
    if _is_cjk(body[-1:]):  # Whisper often leaves Chinese unpunctuated: only dangling words count
        return True
    last_sentence = _last_sentence(body)
    words = [w.strip(",;:").lower() for w in last_sentence.split()]
    if not words or words[-1] in _CONTINUATIONS:
        return False
    if " ".join(words) in _SHORT_TURNS:
        return True
    if stripped[-1] not in _FINAL_PUNCT or len(words) <= 2:
        return False
    return not (words[0] in _FRAGMENT_OPENERS and not any(_verb_like(w) for w in words))


def _last_sentence(text: str) -> str:
    cut = max(text.rfind(p) for p in _FINAL_PUNCT)
    return text[cut + 1:] if cut >= 0 else text


def _verb_like(word: str) -> bool:
    return word in _VERBS or word.endswith(("ed", "ing", "n't"))


def _is_cjk(ch: str) -> bool:
    return bool(ch) and "\u3400" <= ch <= "\u9fff"
