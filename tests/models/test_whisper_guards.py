"""The guards of variable-length Whisper decoding (pure functions: no model needed)."""

from __future__ import annotations

import pytest

from models import whisper_guards as g


def test_padded_frames_has_a_floor_and_a_ceiling() -> None:
    assert g.padded_frames(120) == g.MIN_FRAMES  # a 1.2 s clip is encoded as 10 s
    assert g.padded_frames(1500) == 1500  # 15 s at its own length
    assert g.padded_frames(4000) == g.MAX_FRAMES


def test_token_cap_grows_with_duration_and_leaves_room_for_the_prompt() -> None:
    assert g.token_cap(0.0, 4) == g.TOKEN_FLOOR
    assert g.token_cap(2.0, 4) == g.TOKEN_FLOOR + 30
    assert g.token_cap(10.0, 4) > g.token_cap(2.0, 4)
    assert g.token_cap(29.0, 300) == 448 - 300  # never past the model's max_length
    assert g.token_cap(29.0, 448) == 1
    with pytest.raises(ValueError):
        g.token_cap(-1.0, 4)


def test_loops_finds_a_repeated_tail() -> None:
    phrase = [50, 51, 52, 53]
    assert g.loops([1, 2, 3] + phrase * 3)  # 12 tokens of one 4-token phrase
    assert g.loops([9] + [7] * 10)
    assert not g.loops([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert not g.loops([1, 2] + [7] * 3)  # "对对对", "no no no": short, legitimate
    assert not g.loops([1, 2, 3] + [60, 61, 62, 63, 64] * 2)  # twice is not a loop
    assert not g.loops(phrase * 3 + [99])  # the loop must be at the end (it ran to the cap)
    assert not g.loops([])


def test_a_prompted_pass_that_wrote_too_little_skipped_speech() -> None:
    assert g.skipped_speech(2, 3.0)  # "country." for 3 s of "ask what you can do for your country"
    assert not g.skipped_speech(9, 3.0)
    assert not g.skipped_speech(0, 3.0)  # nothing written: silence, not skipped speech
    assert not g.skipped_speech(1, 0.8)  # "Yes." is a whole short piece


def test_rejection_reasons() -> None:
    assert g.rejection([1, 2, 3], "How long do I have?", cap=10) is None
    assert g.rejection([5] * 12, "the the the", cap=100) == "loop"
    assert g.rejection(list(range(9)), "nine tokens", cap=10) == "token-cap"
    assert g.rejection(list(range(8)), "eight tokens", cap=10) is None
    long_repeat = "I will return it tomorrow. " * 8
    assert g.compression_ratio(long_repeat) > g.COMPRESSION_LIMIT
    assert g.rejection(list(range(20)), long_repeat, cap=100) == "compression"
    assert g.compression_ratio("") == 0.0


def test_one_sentence_said_twice_is_a_loop() -> None:
    sentence = [11, 12, 13, 14, 15, 16]
    assert g.loops(sentence * 2)
    assert not g.loops([*sentence, 11, 12, 13, 14, 15, 17])
    assert not g.loops([1, 2, 3, 1, 2, 3])  # too short to call: "谢谢谢谢", "yes yes"


def test_collapse_repeats_keeps_a_looping_phrase_once() -> None:
    assert g.collapse_repeats("包装 账户 账户 账户 账户 账户") == "包装 账户"
    assert g.collapse_repeats("我叫你 我叫你 我叫你 我叫你") == "我叫你"
    assert g.collapse_repeats("账户，账户，账户，账户") == "账户"
    assert g.collapse_repeats("我想退货，需要多长时间？") == "我想退货，需要多长时间？"
    assert g.collapse_repeats("no no, I said no") == "no no, I said no"
    assert g.collapse_repeats("谢谢") == "谢谢"
