from __future__ import annotations

import pytest

from gateway.core.dialog.intents import classify
from gateway.core.dialog.slots import extract_slots
from gateway.core.dialog.state import DialogState, Line, yes_no


@pytest.mark.parametrize(("text", "intent"), [
    ("Where is my order MLH-123456?", "order_status"), ("我的快递到哪了", "order_status"),
    ("I want to return my lamp", "return_refund"), ("退款多久到账", "return_refund"),
    ("Can I pay in instalments?", "payment_transfer"), ("我要转账", "payment_transfer"),
    ("This is unacceptable, I want to complain", "complaint"), ("我要投诉", "complaint"),
    ("How do I reset my password?", "account_change"), ("怎么修改手机号", "account_change"),
    ("Let me talk to a real person", "human_request"), ("转人工", "human_request"),
    ("How long is the warranty on the sofa?", "product_question"), ("台灯保修多久", "product_question"),
    ("What's the weather like?", "other")])
def test_intents(text: str, intent: str) -> None:
    assert classify(text) == intent


def test_slots() -> None:
    slots = extract_slots("My order mlh-654321 for the sofa, $1,250, bought on March 3, call [PHONE]")
    assert slots == {"order_number": "MLH-654321", "product": "sofa", "amount": "1250",
                     "purchase_date": "March 3", "contact": "[PHONE]"}
    assert extract_slots("我3月5日买的台灯，8000元")["amount"] == "8000"


def test_window_and_summary() -> None:
    state = DialogState(window_turns=2)
    for i in range(6):
        state.add(Line("caller", f"question {i}"))
        state.add(Line("bot", f"answer {i}"))
    assert len(state.window) == 4 and state.window[0].text == "question 4"
    assert state.summary[0].startswith("caller: question 0") and len(state.transcript) == 12


def test_slot_confirmation() -> None:
    state = DialogState()
    assert state.fill({"order_number": "MLH-111111", "product": "lamp"}) == "order_number"
    state.pending_confirm = "order_number"
    state.confirm(False)
    assert "order_number" not in state.slots and state.slots["product"] == "lamp"
    assert yes_no("yes, that's right") is True and yes_no("不对") is False and yes_no("maybe") is None
