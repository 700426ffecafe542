"""Multi-turn flows through the whole core (BM25 index, grounded responder)."""

from __future__ import annotations

import logging

import pytest

from gateway.core.api import Handoff, ReplyClause, StateUpdate, VerificationRequired
from gateway.core.build import Core
from tests.core.conftest import say


def _text(events: list) -> str:
    return " ".join(e.text for e in events if isinstance(e, ReplyClause))


def _open(core: Core, sid: str = "s1"):
    return core.open_conversation(session_id=sid, channel="test", language="auto", tenant="")


async def test_emergency_skips_the_bot(core: Core) -> None:
    conv = _open(core)
    events = await say(conv, "My father has chest pain and can't breathe")
    handoffs = [e for e in events if isinstance(e, Handoff)]
    assert handoffs and handoffs[0].urgent and handoffs[0].reason == "emergency"
    assert events.index(handoffs[0]) < max(i for i, e in enumerate(events) if isinstance(e, ReplyClause))
    assert core.agents.waiting()[0].session_id == "s1" and core.agents.waiting()[0].urgent
    assert "chest pain" in handoffs[0].package["transcript"][0]["text"]


async def test_chinese_emergency(core: Core) -> None:
    events = await say(_open(core), "我妈妈胸口疼，喘不过气", "zh")
    assert any(isinstance(e, Handoff) and e.urgent for e in events)
    assert "120" in _text(events)


async def test_step_up_before_large_transfer(core: Core) -> None:
    conv = _open(core)
    events = await say(conv, "I want to transfer $8,000 from my wallet to my bank", "en")
    assert any(isinstance(e, VerificationRequired) and e.method == "otp" for e in events)
    assert "never ask" in _text(events)  # safety notice
    assert not any(isinstance(e, ReplyClause) and e.sources for e in events)  # nothing done yet
    wrong = await say(conv, "000000" if core.services.outbox.codes["s1"] != "000000" else "111111", "en")
    assert "doesn't match" in _text(wrong)
    ok = await say(conv, " ".join(core.services.outbox.codes["s1"]), "en")
    assert "verified" in _text(ok) and any(isinstance(e, ReplyClause) and e.sources for e in ok)
    assert [e for e in ok if isinstance(e, ReplyClause)][-1].final


async def test_three_wrong_codes_hand_over(core: Core) -> None:
    conv = _open(core)
    await say(conv, "我要更换收款银行账户", "zh")
    code = core.services.outbox.codes["s1"]
    wrong = "123456" if code != "123456" else "654321"
    for _ in range(2):
        assert not any(isinstance(e, Handoff) for e in await say(conv, wrong, "zh"))
    events = await say(conv, wrong, "zh")
    assert any(isinstance(e, Handoff) and e.reason == "verification-failed" for e in events)


async def test_frustration_over_consecutive_turns(core: Core) -> None:
    conv = _open(core)
    first = await say(conv, "My sofa arrived broken and nobody answers, this is terrible", "en")
    assert not any(isinstance(e, Handoff) for e in first)
    second = await say(conv, "This is useless, I am really angry now", "en")
    handoff = next(e for e in second if isinstance(e, Handoff))
    assert handoff.reason == "frustration"
    assert len(handoff.package["sentiment_trend"]) == 2 and handoff.package["summary"]


async def test_explicit_request_and_silence_while_agent_owns(core: Core) -> None:
    conv = _open(core)
    events = await say(conv, "转人工", "zh")
    assert any(isinstance(e, Handoff) and e.reason == "caller-request" for e in events)
    queued = await say(conv, "还要等多久？", "zh")
    assert "等待" in _text(queued)
    assert core.agents.claim("agent-7") is not None
    assert await say(conv, "你好？", "zh") == []  # a person owns the session: the bot is silent
    core.agents.release("s1")
    back = await say(conv, "退货期限是多久？", "zh")
    assert "30天" in _text(back)


async def test_pii_never_reaches_state_package_or_records(core: Core) -> None:
    conv = _open(core)
    card, cn_id, phone = "4111 1111 1111 1111", "11010519491231002X", "13800138000"
    await say(conv, f"My card {card} was charged twice, my ID is {cn_id}, call me on {phone}", "en")
    events = await say(conv, "I want to speak to a person", "en")
    handoff = next(e for e in events if isinstance(e, Handoff))
    dumped = repr(handoff.to_wire()) + core.services.records.dump_text()
    for value in (card, cn_id, phone, "4111111111111111"):
        assert value not in dumped
    assert "[CARD]" in dumped and "[PHONE]" in repr(handoff.package["slots"])


async def test_feedback_is_asked_and_stored(core: Core) -> None:
    conv = _open(core)
    answer = await say(conv, "How long is the warranty?", "en")
    clauses = [e for e in answer if isinstance(e, ReplyClause)]
    assert clauses[-1].text == "Did that answer your question?" and clauses[-1].final
    assert sum(c.final for c in clauses) == 1
    thanks = await say(conv, "yes", "en")
    assert "Thank you" in _text(thanks)
    summary = core.services.records.summary()
    assert summary.answered == 1 and summary.helpful == 1 and any("warranty" in s for s in summary.by_source)


async def test_order_number_is_confirmed(core: Core) -> None:
    conv = _open(core)
    events = await say(conv, "Where is my order MLH-123456?", "en")
    assert "MLH-123456" in _text(events) and "confirm" in _text(events)
    state = [e for e in events if isinstance(e, StateUpdate)][-1]
    assert state.intent == "order_status" and "unconfirmed" in state.slots["order_number"]
    confirmed = await say(conv, "yes", "en")
    assert [e for e in confirmed if isinstance(e, StateUpdate)][-1].slots["order_number"] == "MLH-123456"


async def test_screenshot_completes_spoken_question(core: Core) -> None:
    conv = _open(core)
    await say(conv, "I got this message when I paid, what does it mean?", "en", "speech")
    events = await say(conv, "Payment failed. Your order is reserved.", "en", "screen")
    sources = {s for e in events if isinstance(e, ReplyClause) for s in e.sources}
    assert any("payment" in s for s in sources)


async def test_pii_never_reaches_the_logs(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    conv = _open(core, "logged")
    with caplog.at_level(logging.DEBUG, logger="gateway"):
        await say(conv, "my e-mail is jane.doe@example.com, put me through to a human agent", "en")
    assert "jane.doe@example.com" not in caplog.text and "handoff session=logged" in caplog.text
