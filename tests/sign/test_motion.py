"""The decoder with a sequence model beside the handshape classifier: held shape or movement."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from modalities.sign.decoder import SignDecoder
from modalities.sign.events import LetterRecognised, SignTurnReady, WordRecognised
from modalities.sign.lexicon import Lexicon, edit_distance
from modalities.sign.sequence import SEQ_LABELS
from modalities.sign.settings import SignSettings
from models.sign_classifier import SignFrame

STEP = 66


class ScriptedSequence:
    """Stands in for the sequence model: reads whatever the frames' marker value says."""

    labels: Sequence[str] = (*SEQ_LABELS, "TICKET")

    def __init__(self, readings: dict[int, tuple[str, float]]) -> None:
        self.readings = readings
        self.calls = 0
        self.thresholds: dict[str, float] = {}

    def read(self, frames: npt.NDArray[np.float32]) -> tuple[str, float]:
        self.calls += 1
        return self.readings[int(frames[-1, 1, 0, 2])]


def frame(label: str, marker: int, confidence: float = 0.95) -> SignFrame:
    points = np.zeros((2, 21, 3), np.float32)
    points[1, :, :2] = 0.5
    points[1, 0, 2] = marker  # the scripted reader keys on this
    return SignFrame(label=label, confidence=confidence, hands=1, points=points)


def feed(decoder: SignDecoder, script: list[tuple[str | None, int, int]]) -> list[object]:
    events: list[object] = []
    t = 0
    for label, marker, duration in script:
        end = t + duration
        while t < end:
            events += decoder.push(t, None if label is None else frame(label, marker))
            t += STEP
    return events


READINGS = {
    0: ("HOLD", 0.99),
    1: ("HELLO", 0.95),
    2: ("J", 0.93),
    3: ("REST", 0.99),
    4: ("HELLO", 0.6),
    5: ("OTHER", 0.97),
    6: ("TICKET", 0.9),
}


def test_a_movement_is_a_word_and_its_handshape_is_not_spelled() -> None:
    reader = ScriptedSequence(READINGS)
    decoder = SignDecoder(SignSettings(), sequence=reader)
    # an open hand (B) held while waving: the sequence model reads HELLO, so no B is spelled
    events = feed(decoder, [("B", 0, 200), ("B", 1, 700), (None, 0, 1500)])
    assert [e.word for e in events if isinstance(e, WordRecognised)] == ["HELLO"]
    assert not [e for e in events if isinstance(e, LetterRecognised)]
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["HELLO"]


def test_a_held_handshape_is_spelled_while_the_sequence_model_reads_hold() -> None:
    decoder = SignDecoder(SignSettings(), sequence=ScriptedSequence(READINGS))
    events = feed(decoder, [("C", 0, 600), ("A", 0, 600), ("B", 0, 600), (None, 0, 1500)])
    assert [e.letter for e in events if isinstance(e, LetterRecognised)] == ["C", "A", "B"]


def test_j_replaces_the_i_it_started_from() -> None:
    decoder = SignDecoder(SignSettings(), sequence=ScriptedSequence(READINGS))
    events = feed(decoder, [("A", 0, 600), ("I", 0, 450), ("I", 2, 400), (None, 0, 1500)])
    letters = [e.letter for e in events if isinstance(e, LetterRecognised)]
    assert letters[0] == "A" and letters[-1] == "J"
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["AJ"]


def test_unsure_or_out_of_vocabulary_movements_and_rest_are_not_signs() -> None:
    decoder = SignDecoder(SignSettings(), sequence=ScriptedSequence(READINGS))
    events = feed(decoder, [("REST", 3, 1500), ("B", 4, 900), ("B", 5, 900), (None, 0, 1500)])
    assert not [e for e in events if isinstance(e, WordRecognised) and e.word == "HELLO"]
    assert not [e for e in events if isinstance(e, SignTurnReady) and "HELLO" in e.text]


def test_a_recorded_deployment_word_is_a_whole_sign() -> None:
    decoder = SignDecoder(SignSettings(), sequence=ScriptedSequence(READINGS))
    events = feed(decoder, [("B", 6, 900), (None, 0, 1500)])
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["TICKET"]


def test_lexicon_corrects_near_misses_with_lower_confidence_and_keeps_numbers() -> None:
    lexicon = Lexicon.default(["ZARA"])
    assert edit_distance("SHIPPNG", "SHIPPING") == 1
    assert lexicon.correct("SHIPPING", 0.9) == ("SHIPPING", 0.9)
    word, confidence = lexicon.correct("SHIPPNG", 0.9)
    assert word == "SHIPPING" and confidence < 0.75  # below the read-back threshold: the kiosk asks
    assert lexicon.correct("ZARO", 0.9)[0] == "ZARA"  # a deployment's own word
    assert lexicon.correct("40512", 0.9) == ("40512", 0.9)  # order numbers pass through
    assert lexicon.correct("QXV", 0.9) == ("QXV", 0.81)  # unknown: kept, a little less sure


def test_a_misspelled_word_goes_to_read_back() -> None:
    decoder = SignDecoder(SignSettings(lexicon_words=("CAT",)))
    events = []
    t = 0
    for label, duration in (("C", 500), ("A", 500), ("B", 500), (None, 1500)):
        end = t + duration
        while t < end:
            events += decoder.push(t, None if label is None else SignFrame(label=label, confidence=0.95))
            t += STEP
    turn = next(e for e in events if isinstance(e, SignTurnReady))
    assert turn.text == "CAT" and turn.needs_readback and turn.readback_prompt == "Did you sign CAT?"


def test_a_motion_letter_with_a_calibrated_threshold_is_accepted_below_motion_threshold() -> None:
    # J read at 0.6: under motion_threshold 0.8, over J's calibrated 0.55 (calibrate.py)
    readings = {0: ("HOLD", 0.99), 1: ("J", 0.6), 2: ("HELLO", 0.6)}
    script: list[tuple[str | None, int, int]] = [("I", 0, 200), ("I", 1, 700), (None, 0, 1500)]
    plain = ScriptedSequence(readings)
    letters = [e.letter for e in feed(SignDecoder(SignSettings(), sequence=plain), script)
               if isinstance(e, LetterRecognised)]
    assert "J" not in letters
    calibrated = ScriptedSequence(readings)
    calibrated.thresholds = {"J": 0.55}
    letters = [e.letter for e in feed(SignDecoder(SignSettings(), sequence=calibrated), script)
               if isinstance(e, LetterRecognised)]
    assert letters[-1:] == ["J"]
    # a stricter deployment is stricter for J too: 0.9 * 0.55 / 0.8 = 0.62 > 0.6
    strict = ScriptedSequence(readings)
    strict.thresholds = {"J": 0.55}
    events = feed(SignDecoder(SignSettings(motion_threshold=0.9), sequence=strict), script)
    assert "J" not in [e.letter for e in events if isinstance(e, LetterRecognised)]
    # words have no calibrated threshold: HELLO at 0.6 stays under 0.8
    words = ScriptedSequence(readings)
    words.thresholds = {"J": 0.55}
    waving: list[tuple[str | None, int, int]] = [("B", 0, 200), ("B", 2, 700), (None, 0, 1500)]
    events = feed(SignDecoder(SignSettings(), sequence=words), waving)
    assert not [e for e in events if isinstance(e, WordRecognised)]
