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
- Hands at rest for `rest_ms` end the turn: SignTurnReady, with a read-back prompt when its
  confidence is below `readback_threshold`. A pending read-back is answered by a YES or NO sign
  or by confirm(); anything else refuses it and starts a new turn.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from modalities.sign import vocabulary as vocab
from modalities.sign.events import (
    LetterRecognised,
    ReadbackResolved,
    SignEvent,
    SignTurnReady,
    WordRecognised,
)
from modalities.sign.settings import SignSettings
from models.base import SignPrediction

REST = vocab.REST
UNSURE = "?"
# handshape class -> (anchor index in SignFrame.anchor, motion readings it may carry)
MOTION_ANCHOR = {"I": 1, "Z/index": 0, "S": 2}
STATIC_READING = {"Z/index": "1"}  # the index hand held still is the digit one
DIGIT_OF = {letter: digit for letter, digit in vocab.ALIASES.items()}
SIGNS = frozenset(vocab.KIOSK_SIGNS)


@dataclass
class _Run:
    label: str
    start: int
    confidence_sum: float = 0.0
    frames: int = 0
    token: str | None = None  # what this run produced, if anything


class SignDecoder:
    def __init__(self, settings: SignSettings) -> None:
        settings.validate()
        self.settings = settings
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
        events: list[SignEvent] = []
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
        elif run.token is None and t_ms - run.start >= self._dwell(label):
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
        if token in SIGNS:
            events += self._end_word(t_ms)
            self._words.append((token, confidence))
            events.append(WordRecognised(token, round(confidence, 3), t_ms))
        else:
            if replace and self._letters:
                self._letters[-1] = (token, confidence)
            else:
                self._letters.append((token, confidence))
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
        self._letters = []
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
