"""Transcribes a turn while the caller is still speaking, one segment per pause.

At each pause the audio since the last committed point is transcribed. Pieces of at least
`commit_s` become candidates, committed (their text final, the next piece prompted with it) at
the next pass unless the caller went on within `min_gap_ms` of that pause: a gap that short is
inside a word ("as-k" in jfk.wav), and a piece cut there ends in a mangled half word. The piece
after a committed one starts `pre_roll_ms` before the caller went on, not at the pause, when the
pause is quiet: given the silence, the prompted model wrote words into it ("... for you" + 0.6 s
of silence -> "country. Ask what ..." in jfk.wav). A pause with something louder in it (a soft
word the VAD did not count) is kept whole. Shorter
pieces stay speculative and are transcribed again, longer, at the next pause. When the turn ends, only
the speech after the last pause can still need transcribing, so the caller rarely waits for ASR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from contracts.text import close_cjk_gaps, has_cjk
from modalities.audio.speech_spans import frame_rms
from models.base import Float32Audio, Transcript

AsrCall = Callable[[Float32Audio, str | None, str | None], Awaitable[Transcript]]
AudioSource = Callable[[int, int], Float32Audio]  # (start_ms, end_ms) -> audio at 16 kHz

NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "yue", "th"})
CHINESE_LANGUAGES = frozenset({"zh", "yue"})
LEANS_ABOVE = 0.5  # the engine's top guess outweighs every other language together
MIN_FOREIGN_WORDS = 3  # one or two Latin words ("iPhone", "PayPal") inside Mandarin are normal
QUIET_BELOW = 0.15  # a pause whose loudest 20 ms stay under this share of the speech's level holds no word


@dataclass(frozen=True)
class TurnText:
    text: str
    language: str
    asr_ms: float  # ASR time spent after the end of speech (what the caller waited for)
    language_probability: float = 1.0  # how sure the detection was (1.0 when the language was given)


class TurnTranscriber:
    def __init__(self, asr: AsrCall, audio: AudioSource, *, language: str | None, start_ms: int,
                 commit_s: float = 3.0, tail_pad_ms: int = 120, pre_roll_ms: int = 200,
                 min_gap_ms: int = 200, switch_above: float | None = None) -> None:
        self._asr = asr
        self._audio = audio
        self.start_ms = start_ms  # media time of the turn's first voiced window
        self.language = language  # None: detect on the first segment, then keep it for the turn
        self.language_probability = 1.0
        # A language the session guessed (not one the caller chose): while nothing is committed, a
        # piece is decoded again in another language the engine heard with at least this
        # probability (or leaned to, when the decode itself agrees: see _switches).
        self._switch_above = switch_above
        self._confirmed = False  # a piece was heard as the guessed language itself, surely enough
        self._commit_ms = int(commit_s * 1000)
        self._tail_pad_ms = tail_pad_ms
        self._committed: list[str] = []
        self._pre_roll_ms = pre_roll_ms
        self._origin_ms = start_ms - pre_roll_ms  # media time of the first sample of this turn
        self._committed_until = self._origin_ms
        self._piece_start = self._origin_ms  # where the audio of the next pass begins
        self._latest_request = -1
        self._spec_until = -1
        self._spec_text = ""
        self._candidate = False  # the speculative piece is long enough to commit at the next pass
        self._min_gap_ms = min_gap_ms
        self._resumed_at: dict[int, int] = {}  # pause start (speech end) -> speech went on
        self._lock = asyncio.Lock()

    @property
    def text(self) -> str:
        return _join([*self._committed, self._spec_text], self.language)

    @property
    def may_switch(self) -> bool:
        """The turn's language is a guess it has not yet confirmed: the next piece could still be
        heard as another language (so it needs an engine that can hear that)."""
        return self._guess_open and not self._confirmed

    @property
    def _guess_open(self) -> bool:
        """The language is a guess and no piece is committed: a switch could still redo the turn."""
        return self._switch_above is not None and not self._committed

    def resumed(self, pause_end_ms: int, at_ms: int) -> None:
        """Speech went on at `at_ms` after the pause that began at `pause_end_ms` (media time)."""
        self._resumed_at[pause_end_ms] = at_ms

    def transcribe_until(self, end_ms: int) -> Awaitable[str]:
        """Transcript of the turn up to end_ms (speech end), reusing what is already known.

        The audio is taken now (the listener forgets a turn's audio once the turn ends); the ASR
        runs later, one call at a time, skipping requests that a newer one has made redundant.
        """
        turn_audio = self._audio(self._origin_ms, end_ms + self._tail_pad_ms)
        self._latest_request = max(self._latest_request, end_ms)
        return self._transcribe(end_ms, turn_audio)

    async def _transcribe(self, end_ms: int, turn_audio: Float32Audio) -> str:
        async with self._lock:
            if (self._spec_until >= end_ms or end_ms <= self._committed_until
                    or end_ms < self._latest_request):
                return self.text
            if self._candidate:  # resolved now: every resume before this pause is known
                went_on = self._resumed_at.get(self._spec_until)
                if went_on is None or went_on - self._spec_until >= self._min_gap_ms:
                    self._piece_start = self._next_start(turn_audio, went_on)
                    self._committed.append(self._spec_text)
                    self._committed_until = self._spec_until
                self._candidate = False
                self._spec_until, self._spec_text = -1, ""
            start = self._piece_start
            audio = turn_audio[(start - self._origin_ms) * 16:]
            if len(audio) < 1600:  # under 0.1 s: nothing to transcribe
                return self.text
            prompt = _join(self._committed, self.language)[-200:] or None
            result = await self._asr(audio, self.language, prompt)
            if self.language is None and result.text.strip():
                self.language = result.language
                self.language_probability = result.language_probability
            elif self._switches(result):
                assert result.heard is not None
                self.language, self.language_probability = result.heard
                result = await self._asr(audio, self.language, None)
            elif result.heard is not None and result.heard[0] == self.language:
                self._confirmed = self._confirmed or result.heard[1] >= LEANS_ABOVE
            piece = result.text.strip()
            self._spec_until, self._spec_text = end_ms, piece
            self._candidate = end_ms - self._committed_until >= self._commit_ms
            return self.text

    def _next_start(self, turn_audio: Float32Audio, went_on: int | None) -> int:
        """Where the piece after the one being committed begins: `pre_roll_ms` before the caller
        went on when the pause before that is quiet; at the pause when it is not (a soft word the
        VAD did not count as speech, the "k not" of jfk's "as-k not", must not be cut off)."""
        pause = self._spec_until
        if went_on is None or went_on - self._pre_roll_ms <= pause:
            return pause
        lead_in = went_on - self._pre_roll_ms

        def levels(start_ms: int, end_ms: int) -> np.ndarray:  # RMS of each 20 ms
            span = turn_audio[(start_ms - self._origin_ms) * 16:(end_ms - self._origin_ms) * 16]
            return frame_rms(span, 16000)

        speech = levels(self._piece_start, pause)
        gap = levels(pause, lead_in)
        if not speech.size or not gap.size:
            return pause
        return lead_in if float(gap.max()) < QUIET_BELOW * float(np.percentile(speech, 90)) else pause

    def _switches(self, result: Transcript) -> bool:
        heard = result.heard
        if not self._guess_open or heard is None or heard[0] == self.language:
            return False
        assert self._switch_above is not None
        if heard[1] >= self._switch_above:
            return True
        # Two weaker signals that agree: the engine leans to another language, and made to write
        # Chinese it wrote a whole Latin-script sentence and no Chinese character
        # ("Hello, how long do I have to return the item?" heard as English at 0.79).
        words = sum(any(c.isalpha() for c in w) for w in result.text.split())
        return (heard[1] >= LEANS_ABOVE and self.language in CHINESE_LANGUAGES
                and not has_cjk(result.text) and words >= MIN_FOREIGN_WORDS)

    def finish(self, speech_end_ms: int, *, loop_time: Callable[[], float]) -> Awaitable[TurnText]:
        """The whole turn's transcript; call it when the turn ends (it takes the audio at once)."""
        return self._finish(self.transcribe_until(speech_end_ms), loop_time)

    async def _finish(self, pending: Awaitable[str], loop_time: Callable[[], float]) -> TurnText:
        started = loop_time()
        text = await pending
        return TurnText(text, self.language or "", (loop_time() - started) * 1000.0,
                        self.language_probability)


def _join(pieces: list[str], language: str | None) -> str:
    sep = "" if language in NO_SPACE_LANGUAGES else " "
    return close_cjk_gaps(sep.join(p for p in pieces if p).strip())


