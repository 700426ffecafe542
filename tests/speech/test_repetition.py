"""ASR runaway repetition is cut to one copy and flagged; ordinary repetition stays."""

from __future__ import annotations

import pytest

from gateway.core.policies.pii import mask
from modalities.speech.repetition import FLAG, cut_runaway, was_cut


def test_a_runaway_digit_after_a_card_is_cut_and_the_card_is_masked_again() -> None:
    heard = "my card is 4111 1111 1111 1111" + " 4" * 300
    cut = cut_runaway(heard)
    assert was_cut(cut) and cut.count("4") < 20
    assert "4111" not in mask(cut).text


@pytest.mark.parametrize("heard", ["好的" * 40, "thank you " * 30, "ok," * 25])
def test_runaway_words_are_cut(heard: str) -> None:
    cut = cut_runaway(heard)
    assert FLAG in cut and len(cut) < 30


@pytest.mark.parametrize("text", ["no no no no no no no", "4444 4444 4444 4448 is my card", "hahahahaha",
                                  "1111111111111111111", "a" * 19, ""])
def test_ordinary_repetition_stays(text: str) -> None:
    assert cut_runaway(text) == text
