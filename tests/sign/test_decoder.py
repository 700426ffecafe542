from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from modalities.sign.decoder import SignDecoder
from modalities.sign.events import LetterRecognised, ReadbackResolved, SignTurnReady, WordRecognised
from modalities.sign.settings import SignSettings
from models.sign_classifier import SignFrame

STEP = 66  # ~15 fps


def frame(label: str, confidence: float = 0.95, anchor: tuple[tuple[float, float], ...] = ()) -> SignFrame:
    return SignFrame(label=label, confidence=confidence, anchor=anchor, scale=0.1 if anchor else 0.0, hands=1)


def feed(decoder: SignDecoder, script: list[tuple[str | None, int]], start: int = 0) -> tuple[list, int]:
    """script: (label or None for no hands, duration ms)."""
    events, t = [], start
    for label, duration in script:
        end = t + duration
        while t < end:
            events += decoder.push(t, None if label is None else frame(label))
            t += STEP
    return events, t


def test_letters_dwell_dedup_word_and_turn() -> None:
    decoder = SignDecoder(SignSettings())
    events, _ = feed(decoder, [("C", 600), ("A", 150), ("A", 500), ("B", 900), (None, 1500)])
    letters = [e.letter for e in events if isinstance(e, LetterRecognised)]
    assert letters == ["C", "A", "B"]  # A held across frames is one letter
    words = [e.word for e in events if isinstance(e, WordRecognised)]
    assert words == ["CAB"]
    turns = [e for e in events if isinstance(e, SignTurnReady)]
    assert len(turns) == 1 and turns[0].text == "CAB" and turns[0].tokens == ("CAB",)
    assert not turns[0].needs_readback and turns[0].readback_prompt == ""


def test_short_flicker_is_not_a_letter_and_double_letter_needs_a_break() -> None:
    decoder = SignDecoder(SignSettings())
    events, _ = feed(decoder, [("L", 500), ("K", 130), ("L", 500), (None, 300), ("L", 500), (None, 1500)])
    letters = [e.letter for e in events if isinstance(e, LetterRecognised)]
    assert letters == ["L", "L"]  # the K flicker is too short; the 130 ms gap does not repeat L
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["LL"]


def test_word_gap_separates_words_and_signs_are_words() -> None:
    decoder = SignDecoder(SignSettings())
    events, _ = feed(decoder, [("HELP", 500), ("B", 500), ("O", 500), (None, 800), ("B", 500), (None, 1500)])
    turn = next(e for e in events if isinstance(e, SignTurnReady))
    assert turn.tokens == ("HELP", "BO", "B")


def test_digits_read_in_number_context() -> None:
    decoder = SignDecoder(SignSettings())
    events, _ = feed(decoder, [("4", 500), ("O", 500), (None, 1500)])
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["40"]


def test_low_confidence_turn_asks_readback_confirmed_by_yes_sign() -> None:
    decoder = SignDecoder(SignSettings(readback_threshold=0.9))
    events = []
    t = 0
    for _ in range(8):
        events += decoder.push(t, frame("HELP", 0.6))
        t += STEP
    for _ in range(25):
        events += decoder.push(t, None)
        t += STEP
    turn = next(e for e in events if isinstance(e, SignTurnReady))
    assert turn.needs_readback and turn.readback_prompt == "Did you sign HELP?"
    assert decoder.pending_readback == turn
    # YES: the S fist nodding (wrist moves up and down by a third of a palm)
    events = []
    for i in range(14):
        y = 0.5 + (0.04 if (i // 2) % 2 else 0.0)
        events += decoder.push(t, frame("S", 0.95, ((0.5, 0.4), (0.55, 0.45), (0.5, y))))
        t += STEP
    resolved = [e for e in events if isinstance(e, ReadbackResolved)]
    assert resolved == [ReadbackResolved(True, "HELP", resolved[0].t_ms)]
    assert decoder.pending_readback is None


def test_confirm_by_tap() -> None:
    decoder = SignDecoder(SignSettings(readback_threshold=1.0))
    feed(decoder, [("NO", 500), (None, 1500)])
    assert decoder.pending_readback is not None
    assert decoder.confirm(False, 5000) == [ReadbackResolved(False, "", 5000)]
    assert decoder.confirm(True) == []


def test_motion_letters_j_and_z() -> None:
    decoder = SignDecoder(SignSettings())
    events, t = [], 0
    for i in range(12):  # the I hand: pinky tip draws a hook down and across
        x, y = 0.5 - 0.006 * i, 0.4 + 0.007 * i
        events += decoder.push(t, frame("I", 0.9, ((0.5, 0.5), (x, y), (0.5, 0.6))))
        t += STEP
    for _ in range(5):
        events += decoder.push(t, None)
        t += STEP
    path = [(0, 0), (1, 0), (0, 1), (1, 1)]  # Z: right, down-left, right (palm units of 0.1)
    for i in range(16):
        a, b = path[min(i // 4, 2)], path[min(i // 4 + 1, 3)]
        f = (i % 4) / 4
        x, y = 0.4 + 0.1 * (a[0] + (b[0] - a[0]) * f), 0.3 + 0.08 * (a[1] + (b[1] - a[1]) * f)
        events += decoder.push(t, frame("Z/index", 0.9, ((x, y), (0.5, 0.5), (0.5, 0.6))))
        t += STEP
    events += decoder.flush(t)
    letters = [e.letter for e in events if isinstance(e, LetterRecognised)]
    assert letters[-1] == "Z" and "J" in letters
    assert [e.text for e in events if isinstance(e, SignTurnReady)] == ["J Z"] or [
        e.text for e in events if isinstance(e, SignTurnReady)
    ] == ["JZ"]


def test_index_hand_held_still_is_one_and_wag_is_where() -> None:
    decoder = SignDecoder(SignSettings())
    events, t = feed(decoder, [("Z/index", 500), (None, 800)])
    assert [e.letter for e in events if isinstance(e, LetterRecognised)] == ["1"]
    events = []
    for i in range(14):
        x = 0.5 + (0.07 if (i // 2) % 2 else 0.0)
        events += decoder.push(t, frame("Z/index", 0.9, ((x, 0.4), (0.5, 0.5), (0.5, 0.6))))
        t += STEP
    assert "WHERE" in [e.word for e in events if isinstance(e, WordRecognised)]


def test_unsure_frames_do_not_make_letters_or_end_turns() -> None:
    decoder = SignDecoder(SignSettings())
    events = []
    for i in range(40):
        events += decoder.push(i * STEP, frame("A", 0.2))
    assert events == []


def test_media_time_and_bounds() -> None:
    decoder = SignDecoder(SignSettings(max_tokens=2))
    events, _ = feed(decoder, [("HELP", 500), (None, 100), ("PAY", 500)])
    turns = [e for e in events if isinstance(e, SignTurnReady)]
    assert turns and turns[0].tokens == ("HELP", "PAY")  # ended early at max_tokens
    assert decoder.push(-100, None) == []  # time going backwards is clamped, not an error


@pytest.mark.parametrize(
    "bad",
    [
        dict(sample_fps=0),
        dict(rest_ms=500, word_gap_ms=700),
        dict(max_hands=3),
        dict(readback_threshold=0),
        dict(max_frame_bytes=10),
    ],
)
def test_settings_validate(bad: dict) -> None:
    SignSettings().validate()
    with pytest.raises(ConfigError):
        SignSettings(**bad).validate()
