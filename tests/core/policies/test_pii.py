from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.policies.pii import cn_id_valid, luhn_valid, mask


def test_cn_id_checksum() -> None:
    assert cn_id_valid("11010519491231002X")
    assert not cn_id_valid("110105194912310021")  # wrong check digit
    assert mask("身份证11010519491231002X").text == "身份证[ID]"


def test_cards_need_luhn() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert mask("card 4111 1111 1111 1111 please").text == "card [CARD] please"
    assert "[CARD]" not in mask("ref 4111 1111 1111 1112").text


def test_phones_and_emails() -> None:
    m = mask("call 13800138000 or +86 138-0013-8000, mail jane.doe@example.com")
    assert m.text == "call [PHONE] or [PHONE], mail [EMAIL]"
    assert m.kinds == ("email", "phone")


def test_order_numbers_and_amounts_stay() -> None:
    text = "order MLH-123456 for $8,000 on 2024-03-05"
    assert mask(text).text == text


@given(st.text(max_size=200))
def test_masking_is_total_and_idempotent(text: str) -> None:
    once = mask(text).text
    assert mask(once).text == once
