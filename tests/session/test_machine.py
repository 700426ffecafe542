"""The session machine driven by recorded VAD traces and scripted stages, as event-sequence
snapshots (tests/session/harness.py). Each test names the rule it guards."""

from __future__ import annotations

import pytest

from gateway.core.api import TextTurn
from gateway.inputs import ImageIn, TextIn, VideoFrameIn
from modalities.sign.events import LetterRecognised, SignTurnReady
from tests.session.harness import QUESTION, Crash, Harness, trace

RETURNS = "en_question_returns"
SHIPPING = "en_question_shipping"
PAUSE = "en_pause_mid_sentence"
ANSWERED_1 = ["reply 1", "audio 1 x10", "audio.end 1", "timing 1"]


def first_half() -> tuple[list[float], list[float]]:
    probabilities = trace(RETURNS)
    return probabilities[:30], probabilities[30:]


def test_a_plain_spoken_turn() -> None:
    h = Harness()
    h.speak(trace(RETURNS))
    h.idle(1.5)
    assert h.snapshot() == [
        "partial 1 'How long do I have'",
        f"partial 1 {QUESTION!r}",
        f"final 1 speech {QUESTION!r}",
        *ANSWERED_1,
    ]
    assert [(r.speaker, r.turn_id, r.modality) for r in h.records] == [("caller", 1, "speech"),
                                                                      ("bot", 1, "speech")]


@pytest.mark.parametrize(("arrives", "modality", "text"), [
    (TextIn("What are your shipping options?"), "text", "What are your shipping options?"),
    (ImageIn(b"a screenshot"), "screen", "Order 1234: shipped"),
])
def test_a_typed_turn_or_screenshot_mid_speech_keeps_both_replies_whole(arrives, modality, text) -> None:
    """Rule: turn ids are given at turn start, so the spoken turn keeps its own (the lost-reply bug),
    and speech already under way when a reply begins does not barge in on it."""
    before, after = first_half()
    h = Harness(reply_frames=20)
    h.speak(before)
    h.send(arrives)
    h.speak(after)
    h.idle(1.5)
    assert h.snapshot() == [
        "partial 1 'How long do I have'",
        f"final 2 {modality} {text!r}",
        "reply 2", "audio 2 x20", "audio.end 2", "timing 2",
        f"partial 1 {QUESTION!r}",
        f"final 1 speech {QUESTION!r}",
        "reply 1", "audio 1 x20", "audio.end 1", "timing 1",
    ]
    assert h.audio_frames(1) == h.audio_frames(2) == 20  # every reply audio frame delivered


def test_barge_in_during_a_reply_cuts_it_and_the_new_turn_is_answered() -> None:
    """Rule: speech that begins while a reply is audible stops it; its unsent audio never goes out."""
    h = Harness(reply_frames=50, frames_per_step=1)
    h.speak(trace(RETURNS))
    h.idle(0.5)
    h.speak(trace(SHIPPING))
    h.idle(2.5)
    snapshot = h.snapshot()
    cut = snapshot.index("clear 1")
    assert snapshot[:3] == ["partial 1 'How long do I have'", f"partial 1 {QUESTION!r}",
                            f"final 1 speech {QUESTION!r}"]
    assert snapshot[cut + 1:] == [f"partial 2 {QUESTION!r}", f"final 2 speech {QUESTION!r}",
                                  "reply 2", "audio 2 x50", "audio.end 2", "timing 2"]
    assert 0 < h.audio_frames(1) < 50 and "audio.end 1" not in snapshot


def test_a_caller_pause_mid_sentence_is_not_answered() -> None:
    """Rule: a pause after words that sound unfinished waits the long silence; audio is held
    until the pause's transcript is known."""
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        if until_ms < 2000 and not final:
            return "And so, my fellow Americans,"
        return "And so, my fellow Americans, ask not what your country can do for you."

    h = Harness(asr=asr)
    h.speak(trace(PAUSE))
    h.idle(1.5)
    snapshot = h.snapshot()
    finals = [line for line in snapshot if line.startswith("final")]
    assert finals == ["final 1 speech 'And so, my fellow Americans, ask not what your country can do "
                      "for you.'"]
    assert snapshot.index(finals[0]) < snapshot.index("audio 1 x10")  # no reply audio before the end


def test_turn_taking_is_the_same_whatever_the_speed_of_the_pause_transcript() -> None:
    """Rule: while the turn would end if its words sounded finished, audio is held until the
    pause's transcript is known (a slow ASR must not make the caller wait the long silence)."""
    finals = []
    for delay in (0, 25):  # 25 steps: 0.8 s, longer than the caller's 0.6 s between questions
        h = Harness(asr_delay_steps=delay)
        h.speak(trace(RETURNS))
        h.idle(0.3)
        h.speak(trace(SHIPPING))
        h.idle(2.5)
        finals.append([line for line in h.snapshot() if line.startswith("final")])
    assert finals[0] == finals[1] == [f"final 1 speech {QUESTION!r}", f"final 2 speech {QUESTION!r}"]


def test_crashing_asr_is_reported_and_later_turns_are_answered() -> None:
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        if turn_id == 1 and final:
            raise Crash
        return QUESTION

    h = Harness(asr=asr)
    h.speak(trace(RETURNS))
    h.idle(1.0)
    h.speak(trace(SHIPPING))
    h.idle(1.5)
    snapshot = h.snapshot()
    assert "error asr-failed" in snapshot and "final 1 speech" not in " ".join(snapshot)
    assert snapshot[-4:] == ["reply 2", "audio 2 x10", "audio.end 2", "timing 2"]


def test_a_crash_in_a_pause_transcript_lets_the_turn_end_without_its_hint() -> None:
    def asr(turn_id: int, until_ms: int, final: bool) -> str:
        if not final:
            raise Crash
        return QUESTION

    h = Harness(asr=asr)
    h.speak(trace(RETURNS))
    h.idle(2.0)
    snapshot = h.snapshot()
    assert snapshot[:2] == ["error asr-failed", "error asr-failed"]
    assert snapshot[2:] == [f"final 1 speech {QUESTION!r}", *ANSWERED_1]


def test_crashing_tts_reply_goes_on_as_text_and_the_next_turn_is_voiced() -> None:
    h = Harness(tts_fails={1})
    h.send(TextIn("hello"))
    h.idle(0.5)
    h.send(TextIn("again"))
    h.idle(0.5)
    assert h.snapshot() == [
        "final 1 text 'hello'", "reply 1", "error tts-failed", "audio.end 1", "timing 1",
        "final 2 text 'again'", "reply 2", "audio 2 x10", "audio.end 2", "timing 2",
    ]
    assert [(r.speaker, r.turn_id) for r in h.records] == [("caller", 1), ("bot", 1),
                                                          ("caller", 2), ("bot", 2)]


def test_crashing_reply_stage_is_reported_and_the_next_turn_is_answered() -> None:
    h = Harness(core_fails={1})
    h.send(TextIn("hello"))
    h.idle(0.3)
    h.send(TextIn("again"))
    h.idle(0.5)
    assert h.snapshot() == ["final 1 text 'hello'", "error internal-error",
                            "final 2 text 'again'", "reply 2", "audio 2 x10", "audio.end 2", "timing 2"]
    assert not h.machine.reply_active(h.media_ms / 1000)


def test_crashing_ocr_is_reported_and_the_next_screenshot_is_read() -> None:
    def ocr(data: bytes) -> TextTurn:
        if data == b"bad":
            raise Crash
        return TextTurn("Invoice 7", "en", "screen")

    h = Harness(ocr=ocr)
    h.send(ImageIn(b"bad"))
    h.idle(0.1)
    h.send(ImageIn(b"good"))
    h.idle(0.5)
    assert h.snapshot() == ["error internal-error", "final 2 screen 'Invoice 7'", "reply 2", "audio 2 x10",
                            "audio.end 2", "timing 2"]


def test_a_second_screenshot_while_one_is_read_is_refused() -> None:
    h = Harness()
    h.machine.receive(ImageIn(b"one"), 0.0)
    assert [type(c).__name__ for c in h.machine.receive(ImageIn(b"two"), 0.0)] == ["Report"]


def test_crashing_sign_stage_is_reported_and_later_frames_are_read() -> None:
    def sign(data: bytes, t_ms: int) -> list:
        if data == b"crash":
            raise Crash
        if data == b"done":
            return [SignTurnReady("4 Y", 0.9, ("4", "Y"), False, "")]
        return [LetterRecognised("A", 0.9, t_ms)]

    h = Harness(sign=sign)
    for t_ms, data in enumerate([b"crash", b"a", b"a", b"done"]):
        h.send(VideoFrameIn(data, t_ms * 100))
    h.idle(0.5)
    assert h.snapshot() == ["error internal-error", "caption sign-letter A", "caption sign-letter A",
                            "final 1 sign '4 Y'", *ANSWERED_1]
