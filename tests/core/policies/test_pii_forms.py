"""PII in other forms than ASCII digits: Chinese numerals, full-width digits, spoken digits,
and digit runs with separators."""

from __future__ import annotations

import pytest

from gateway.core.policies.pii import find_pii, mask


@pytest.mark.parametrize("said, masked", [
    ("卡号是四一一一一一一一一一一一一一一一", "卡号是[CARD]"),
    ("卡号是4一1一 幺幺幺幺 一一一一 一一一一", "卡号是[CARD]"),
    ("卡号４１１１１１１１１１１１１１１１", "卡号[CARD]"),
    ("手机幺三八零零幺三八零零零", "手机[PHONE]"),
    ("my card is four one one one one one one one one one one one one one one one, ok",
     "my card is [CARD], ok"),
    ("Four-one-one-one one one one one one one one one one one one one", "[CARD]"),
    ("call one three eight 0013 8000 please", "call [PHONE] please"),
    ("ref 4111 1111 1111 1112 4", "ref [NUMBER]"),  # not a card, still a long number
])
def test_digits_in_other_forms_are_masked(said: str, masked: str) -> None:
    assert mask(said).text == masked


def test_the_match_names_the_original_words() -> None:
    (match,) = find_pii("it is four one one one one one one one one one one one one one one one")
    assert match.kind == "card" and match.value.startswith("four one") and match.value.endswith("one")


@pytest.mark.parametrize("text", ["I need one or two tickets", "一二三四五六七八九十", "one two three",
                                  "第一次", "order MLH-123456 for $8,000 on 2024-03-05", "room 1 2 3"])
def test_ordinary_numbers_in_words_stay(text: str) -> None:
    assert mask(text).text == text
