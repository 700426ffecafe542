"""Temporal decoding of per-frame sign predictions into letters, words and text turns.

A pure state machine in media time (no clocks, no I/O): push(t_ms, prediction) -> events.
- A handshape held `dwell_ms` becomes a token; holding it longer does not repeat it, and the
  same letter twice needs a real break (`repeat_gap_ms` of another shape or no hands).
- Motion signs share a handshape with a static one and are read from the trajectory of the
  same run: the I hand drawing a hook is J, the index hand zig-zagging down is Z and wagging
  sideways is WHERE, the S fist nodding is YES. A motion seen after the static token was
  accepted upgrades that token (the caption gets the corrected letter).
- Letters form a spelled word until a pause of `word_gap_ms` (hands at rest or off camera);
  digits that share a letter's handshape (O/0, D/1, V/2, W/6, F/9) read as digits inside a
  number. Whole signs are words on their own.
- Movements: with a sequence model (models.sign_classifier.SequenceModel), the last
  `seq_window_ms` of landmarks is read on every frame; a movement (J, Z, a word) read at
  `motion_threshold` or more (J and Z: their calibrated thresholds, scaled with it; see
  modalities/sign/calibrate.py) on `seq_confirm` frames in a row is accepted, and while a movement
  is under way no held handshape is accepted: that is how the decoder decides between "a held
  handshape" and "a movement". A letter accepted during the movement's window was the
  movement's own handshape and is taken back (J replaces the I it started from).
- A spelled word passes through the lexicon (edit-distance correction, lower confidence when
  corrected, so the read-back asks).
- Hands at rest for `rest_ms` end the turn: SignTurnReady, with a read-back prompt when its
  confidence is below `readback_threshold`. A pending read-back is answered by a YES or NO sign
  or by confirm(); anything else refuses it and starts a new turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from modalities.sign import vocabulary as vocab
from modalities.sign.events import (
    LetterRecognised,
    ReadbackResolved,
    SignEvent,
    SignTurnReady,
    WordRecognised,
)
from modalities.sign.lexicon import Lexicon
from modalities.sign.sequence import MIN_FRAMES, SEQ_LABELS, movement_threshold
from modalities.sign.settings import SignSettings
from models.base import SignPrediction

REST = vocab.REST
UNSURE = "?"
# handshape class -> (anchor index in SignFrame.anchor, motion readings it may carry)
MOTION_ANCHOR = {"I": 1, "Z/index": 0, "S": 2}
STATIC_READING = {"Z/index": "1"}  # the index hand held still is the digit one
DIGIT_OF = {letter: digit for letter, digit in vocab.ALIASES.items()}
SIGNS = frozenset(vocab.KIOSK_SIGNS)
NOT_MOVEMENTS = frozenset(("HOLD", "OTHER", "REST"))
MOVEMENT_BASE = {"J": ("I",), "Z": ("1", "Z/index", "D")}  # the letter a motion letter starts from


class SequenceReader(Protocol):
    labels: Sequence[str]

    @property
    def thresholds(self) -> Mapping[str, float]:
        """Class -> its calibrated threshold (J, Z; models.sign_sequence.movement_threshold)."""

    def read(self, frames: npt.NDArray[np.float32]) -> tuple[str, float]: ...


@dataclass
class _Run:
    label: str
    start: int
    confidence_sum: float = 0.0
    frames: int = 0
    token: str | None = None  # what this run produced, if anything


class SignDecoder:
    def __init__(
        self, settings: SignSettings, sequence: SequenceReader | None = None, lexicon: Lexicon | None = None
    ) -> None:
        settings.validate()
        self.settings = settings
        self._sequence = sequence
        self._lexicon = lexicon if lexicon is not None else Lexicon.default(settings.lexicon_words)
        extra = set(sequence.labels) - set(SEQ_LABELS) - NOT_MOVEMENTS if sequence is not None else set()
        self._signs = SIGNS | frozenset(extra)  # recorded deployment words are whole signs too
        self._window: deque[tuple[int, npt.NDArray[np.float32] | None]] = deque(maxlen=90)
        self._candidate: tuple[str, int] = ("", 0)  # movement read, frames in a row
        self._moving = False
        self._moving_since: int | None = None  # media time the movement reading began
        self._fired = ""  # the movement just accepted: not again until something else is read
        self._letter_times: list[int] = []
        self._run: _Run | None = None
        self._track: deque[tuple[int, float, float]] = deque(maxlen=128)  # t, x, y (palm units)
        self._last_token: tuple[str, int] | None = None  # label, media time its run ended
        self._letters: list[tuple[str, float]] = []
        self._words: list[tuple[str, float]] = []
        self._rest_since: int | None = None
        self._pending: SignTurnReady | None = None
        self._last_t = -1

    # ---------------------------------------------------------------- public

    @property
    def pending_readback(self) -> SignTurnReady | None:
        return self._pending

    def push(self, t_ms: int, prediction: SignPrediction | None) -> list[SignEvent]:
        t_ms = max(int(t_ms), self._last_t)  # media time never runs backwards
        self._last_t = t_ms
        label = self._label_of(prediction)
        events: list[SignEvent] = self._read_movement(t_ms, prediction)
        if label == REST:
            self._end_run(t_ms)
            self._rest_since = t_ms if self._rest_since is None else self._rest_since
            events += self._on_rest(t_ms)
            return events
        self._rest_since = None
        if label == UNSURE:
            self._end_run(t_ms)
            return events
        assert prediction is not None
        if self._run is None or self._run.label != label:
            self._end_run(t_ms)
            self._run = _Run(label, t_ms)
            self._track.clear()
        run = self._run
        run.confidence_sum += prediction.confidence
        run.frames += 1
        self._follow(t_ms, label, prediction)
        motion = self._motion(label)
        if motion is not None and run.token != motion:
            events += self._accept(motion, run, t_ms, replace=run.token is not None)
        elif run.token is None and not self._moving and t_ms - run.start >= self._dwell(label):
            events += self._accept(STATIC_READING.get(label, label), run, t_ms, replace=False)
        return events

    def confirm(self, yes: bool, t_ms: int | None = None) -> list[SignEvent]:
        """The kiosk's tap on a read-back prompt."""
        if self._pending is None:
            return []
        pending, self._pending = self._pending, None
        return [ReadbackResolved(yes, pending.text if yes else "", self._last_t if t_ms is None else t_ms)]

    def flush(self, t_ms: int) -> list[SignEvent]:
        """End of stream: whatever was signed becomes a turn now."""
        return self._end_word(t_ms) + self._end_turn(t_ms)

    # ---------------------------------------------------------------- frames

    def _dwell(self, label: str) -> int:
        # Awaiting a read-back answer, a still S fist may be the start of a nodding YES.
        if self._pending is not None and label == "S":
            return self.settings.dwell_ms + self.settings.motion_window_ms
        return self.settings.dwell_ms

    def _label_of(self, prediction: SignPrediction | None) -> str:
        if prediction is None or prediction.label == REST:
            return REST
        if prediction.confidence < self.settings.min_confidence:
            return UNSURE
        return prediction.label

    def _follow(self, t_ms: int, label: str, prediction: SignPrediction) -> None:
        anchor = getattr(prediction, "anchor", ())
        scale = float(getattr(prediction, "scale", 0.0))
        index = MOTION_ANCHOR.get(label)
        if index is None or len(anchor) <= index or scale <= 0:
            return
        x, y = anchor[index]
        self._track.append((t_ms, x / scale, y / scale))
        while self._track and self._track[0][0] < t_ms - self.settings.motion_window_ms:
            self._track.popleft()

    def _motion(self, label: str) -> str | None:
        if label not in MOTION_ANCHOR or len(self._track) < 4:
            return None
        xs = [p[1] for p in self._track]
        ys = [p[2] for p in self._track]
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        turns_x, turns_y = _reversals(xs, 0.15), _reversals(ys, 0.1)
        if label == "Z/index":
            if turns_x >= 2 and height >= 0.5 and width >= 0.6:
                return "Z"
            if turns_x >= 2 and width >= 0.5 and height < 0.4:
                return "WHERE"
        elif label == "I":
            if height >= 0.35 and width >= 0.35:
                return "J"
        elif label == "S" and turns_y >= 2 and height >= 0.2 and width < height:
            return "YES"
        return None

    def _read_movement(self, t_ms: int, prediction: SignPrediction | None) -> list[SignEvent]:
        if self._sequence is None:
            return []
        points = getattr(prediction, "points", None)
        self._window.append((t_ms, points))
        while self._window and self._window[0][0] < t_ms - self.settings.seq_window_ms:
            self._window.popleft()
        frames = [p for _, p in self._window if p is not None]
        if len(frames) < MIN_FRAMES:
            self._moving, self._candidate = False, ("", 0)
            return []
        stack = np.stack([p if p is not None else np.zeros((2, 21, 3), np.float32) for _, p in self._window])
        label, probability = self._sequence.read(stack)
        movement = label not in NOT_MOVEMENTS
        self._moving = movement and probability >= 0.5
        if not self._moving:
            self._moving_since = None
        elif self._moving_since is None:
            self._moving_since = t_ms
        if label != self._fired:
            self._fired = ""
        threshold = movement_threshold(label, self.settings.motion_threshold, self._sequence.thresholds)
        if not movement or probability < threshold or label == self._fired:
            self._candidate = ("", 0)
            return []
        seen = self._candidate[1] + 1 if self._candidate[0] == label else 1
        self._candidate = (label, seen)
        if seen < self.settings.seq_confirm:
            return []
        began = self._moving_since if self._moving_since is not None else t_ms
        self._window.clear()
        self._candidate, self._moving, self._fired, self._moving_since = ("", 0), False, label, None
        return self._accept_movement(label, probability, began, t_ms)

    def _accept_movement(self, label: str, confidence: float, began: int, t_ms: int) -> list[SignEvent]:
        if label in MOVEMENT_BASE:  # J replaces the I it started from, Z the index hand
            recent = self._letter_times and self._letter_times[-1] >= began - self.settings.seq_window_ms
            if recent and self._letters and self._letters[-1][0] in MOVEMENT_BASE[label]:
                self._letters[-1] = (label, confidence)
                if self._run is not None:
                    self._run.token = label
                return [LetterRecognised(label, round(confidence, 3), t_ms)]
        else:  # a letter accepted as the movement began was its own handshape, not spelling
            while self._letter_times and self._letter_times[-1] >= began - self.settings.dwell_ms:
                self._letter_times.pop()
                self._letters.pop()
        run = _Run(label, began, confidence, 1)
        if self._run is not None:
            self._run.token = self._run.token or label  # the held shape under the movement is used up
        return self._accept(label, run, t_ms, replace=False)

    def _end_run(self, t_ms: int) -> None:
        if self._run is not None and self._run.token is not None:
            self._last_token = (self._run.token, t_ms)
        self._run = None
        self._track.clear()

    # ---------------------------------------------------------------- tokens

    def _accept(self, token: str, run: _Run, t_ms: int, *, replace: bool) -> list[SignEvent]:
        confidence = run.confidence_sum / max(run.frames, 1)
        last = self._last_token
        if (
            not replace
            and last is not None
            and last[0] == token
            and run.start - last[1] < self.settings.repeat_gap_ms
        ):
            run.token = token  # a flicker inside one held sign, not a repetition
            return []
        run.token = token
        if self._pending is not None:
            if token in ("YES", "NO"):
                pending, self._pending = self._pending, None
                return [ReadbackResolved(token == "YES", pending.text if token == "YES" else "", t_ms)]
            pending, self._pending = self._pending, None
            events: list[SignEvent] = [ReadbackResolved(False, "", t_ms)]
        else:
            events = []
        if token in self._signs:
            events += self._end_word(t_ms)
            self._words.append((token, confidence))
            events.append(WordRecognised(token, round(confidence, 3), t_ms))
        else:
            if replace and self._letters:
                self._letters[-1] = (token, confidence)
            else:
                self._letters.append((token, confidence))
                self._letter_times.append(t_ms)
            events.append(LetterRecognised(token, round(confidence, 3), t_ms))
        if len(self._words) + (1 if self._letters else 0) >= self.settings.max_tokens:
            events += self._end_word(t_ms) + self._end_turn(t_ms)
        return events

    def _on_rest(self, t_ms: int) -> list[SignEvent]:
        assert self._rest_since is not None
        resting = t_ms - self._rest_since
        events: list[SignEvent] = []
        if resting >= self.settings.word_gap_ms:
            events += self._end_word(t_ms)
        if resting >= self.settings.rest_ms:
            events += self._end_turn(t_ms)
        return events

    def _end_word(self, t_ms: int) -> list[SignEvent]:
        if not self._letters:
            return []
        word = _spelled(self._letters)
        confidence = sum(c for _, c in self._letters) / len(self._letters)
        word, confidence = self._lexicon.correct(word, confidence)
        self._letters, self._letter_times = [], []
        self._words.append((word, confidence))
        return [WordRecognised(word, round(confidence, 3), t_ms)]

    def _end_turn(self, t_ms: int) -> list[SignEvent]:
        if not self._words:
            return []
        tokens = tuple(w for w, _ in self._words)
        confidence = round(min(c for _, c in self._words), 3)
        self._words = []
        self._last_token = None
        text = " ".join(tokens)
        needs = confidence < self.settings.readback_threshold
        turn = SignTurnReady(text, confidence, tokens, needs, f"Did you sign {text}?" if needs else "", t_ms)
        if needs:
            self._pending = turn
        return [turn]


def _spelled(letters: list[tuple[str, float]]) -> str:
    chars = [c for c, _ in letters]
    if any(c.isdigit() for c in chars) and all(c.isdigit() or c in DIGIT_OF for c in chars):
        chars = [DIGIT_OF.get(c, c) for c in chars]
    return "".join(chars)


def _reversals(values: list[float], minimum: float) -> int:
    """Direction changes of a 1-D path, ignoring wiggles smaller than `minimum` (palm units)."""
    turns, direction, extreme = 0, 0, values[0]
    for v in values[1:]:
        if direction >= 0 and v < extreme - minimum:
            turns += direction > 0
            direction, extreme = -1, v
        elif direction <= 0 and v > extreme + minimum:
            turns += direction < 0
            direction, extreme = 1, v
        elif (direction >= 0 and v > extreme) or (direction < 0 and v < extreme):
            extreme = v
    return turns
