"""The transcript's completeness cues (modalities/speech/completeness.py), per language."""

from __future__ import annotations

import pytest

from modalities.speech.completeness import completeness, sounds_complete
from modalities.speech.endpointing import EndpointConfig, Endpointer


@pytest.mark.parametrize(("text", "expected"), [
    ("", None),
    ("And so, my fellow Americans,", "incomplete"),
    ("I want to return the", "incomplete"),
    ("and so my fellow america", "incomplete"),  # a fragment waiting for its verb, unpunctuated
    ("ask what you can do for your country", "unsure"),
    ("How long do I have to return an item?", "final"),
    ("I would like to check my order.", "complete"),
    ("yes", "complete"),
    ("Come quickly.", "unsure"),
    ("你们几点关门吗", "final"),  # question particle, unpunctuated as Whisper often leaves it
    ("这个可以退货吗？", "final"),
    ("我已经付款了", "final"),
    ("我想问我在滨海新区有房", "complete"),
    ("我想问一下因为", "incomplete"),
    ("请问", "announced"),
    ("我想问", "announced"),
    ("我想问一下", "announced"),
    ("Hi, I have a question.", "announced"),
    ("So I wanted to ask,", "announced"),
    ("I have a question about my order.", "complete"),
    ("请问？", "final"),
    ("Hello.", "opening"),
    ("Hello, hello.", "opening"),
    ("Good morning", "opening"),
    ("喂，你好。", "opening"),
    ("您好", "opening"),
    ("Hello?", "opening"),  # how Whisper wrote the greeting that two callers were talked over in
    ("你好？", "opening"),
    ("Hello, how long do I have to return the item?", "final"),
    ("Hello, I'd like to return my blender.", "complete"),
    ("你好，我想退货。", "complete"),
])
def test_completeness(text: str, expected: str | None) -> None:
    assert completeness(text) == expected
    assert sounds_complete(text) == (None if expected is None else expected in ("complete", "final"))


def _silence_to_end(words: str, p: float | None, *, longest_pause_ms: int) -> int:
    """Media ms of silence after which the endpointer ends a turn, given the hints."""
    ep = Endpointer(EndpointConfig(pause_factor=1.0, end_complete_ms=450, end_incomplete_ms=1400,
                                   end_confident_ms=200, end_unfinished_ms=2000))
    t = 0
    for voiced, ms in ((True, 640), (False, longest_pause_ms), (True, 640)):
        for _ in range(ms // 32):
            t += 32
            ep.window(t, 32, 1.0 if voiced else 0.0)
    silence = 0
    while silence < 3000:
        t, silence = t + 32, silence + 32
        events = ep.window(t, 32, 0.0)
        if silence == 160:
            ep.hint(completeness(words))
            ep.judged(p)
        if any(type(e).__name__ == "TurnEnded" for e in events):
            return silence
    return -1


def test_a_mandarin_final_particle_skips_the_rhythm_stretch() -> None:
    """吗 closes the turn at end_complete_ms even after a 1.2 s pause earlier in the turn; a plain
    ending waits pause_factor x that pause; unfinished words wait the long silence."""
    assert _silence_to_end("你们几点关门吗", None, longest_pause_ms=1216) == 480
    assert _silence_to_end("你们几点关门", None, longest_pause_ms=1216) == 1216
    assert _silence_to_end("你们几点关门", 0.9, longest_pause_ms=1216) == 224
    assert _silence_to_end("我想问一下因为", 0.9, longest_pause_ms=1216) == 1408


def test_words_and_model_both_unfinished_wait_longest() -> None:
    assert _silence_to_end("我想一下因为", 0.05, longest_pause_ms=0) == 2016
    assert _silence_to_end("我想一下因为", 0.5, longest_pause_ms=0) == 1408
    assert _silence_to_end("我想一下因为", None, longest_pause_ms=0) == 1408


def test_an_announced_question_waits_longest_whatever_the_model() -> None:
    """funasr_llamacpp_sample_zh.wav: "我想问" (I want to ask), a 1.5 s pause, then the question.
    The model's p there wobbles around turn_doubt (0.09 offline, 0.11 in a live run): the words
    alone say the question is still to come."""
    for p in (0.05, 0.11, 0.5, 0.99, None):
        assert _silence_to_end("我想问", p, longest_pause_ms=0) == 2016
        assert _silence_to_end("I have a question.", p, longest_pause_ms=0) == 2016


def test_a_greeting_alone_waits_for_the_question_whatever_the_model() -> None:
    """samples/audio/en_question_returns.wav: "Hello." and a 240 ms breath before the question.
    At 25 callers tiny.en wrote "Hello?" for two of them, the model said p 0.83, and their replies
    started in that breath (256 ms of measured silence, over the 200 ms those two called for)."""
    for p in (0.05, 0.5, 0.83, 0.99, None):
        for greeting in ("Hello?", "Hello.", "喂，你好"):
            assert _silence_to_end(greeting, p, longest_pause_ms=0) == 1408
    assert _silence_to_end("Hello, how long do I have to return the item?", 0.83, longest_pause_ms=0) == 224


def test_a_pause_without_words_the_model_is_sure_of_waits_as_if_unfinished() -> None:
    """The same funasr pause when its ASR pass was skipped (the model sure the caller goes on): no
    words, and the verdict alone keeps the turn open past end_incomplete_ms, as "我想问" did."""
    assert _silence_to_end("", 0.05, longest_pause_ms=0) == 2016
    assert _silence_to_end("", 0.5, longest_pause_ms=0) == 1408
    assert _silence_to_end("", None, longest_pause_ms=0) == 1408
