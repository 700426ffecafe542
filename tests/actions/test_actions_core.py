"""Actions end to end through the core against a real HTTP service on a loopback port."""

from __future__ import annotations

import json

import pytest

from gateway.core.api import Handoff, ReplyClause, VerificationRequired
from gateway.core.dialog.intents import classify
from gateway.core.nlu.catalog import Intent
from gateway.core.nlu.understand import Reading
from modalities.screen.fields import Field, summarise
from tests.actions.conftest import ActionCore, reply, say
from tests.conftest import SAMPLES


def finals(events: list) -> int:
    return sum(1 for e in events if isinstance(e, ReplyClause) and e.final)


async def test_spoken_order_question_is_answered_from_the_order_service(actions: ActionCore) -> None:
    conv = actions.open()
    events = await say(conv, "Hi, where is my order A1029?", "en", "speech")
    text = reply(events)
    assert "A1029 has shipped" in text and "May 12" in text and "1Z999AA10123456784" in text, text
    assert "Thursday, May 16" in text, text  # a date said as a person says it
    assert finals(events) == 1 and isinstance(events[-1], ReplyClause) and events[-1].final
    assert [r[:2] for r in actions.backend.requests] == [("GET", "/api/orders/A1029")]
    (row,) = actions.rows("action")
    assert row["action"] == "order_status" and row["outcome"] == "ok" and row["status"] == 200
    assert row["latency_ms"] > 0 and row["attempts"] == 1
    assert "1Z999AA10123456784" not in actions.dump()  # the result is told, never stored


async def test_a_missing_order_number_is_asked_for_in_the_callers_language(actions: ActionCore) -> None:
    conv = actions.open(language="zh")
    asked = reply(await say(conv, "我的订单到哪了？", "zh", "speech"))
    assert asked == "好的，请告诉我您的订单号。"
    assert actions.backend.requests == []
    text = reply(await say(conv, "订单号是A1029", "zh", "speech"))
    assert "订单A1029已发货" in text and "5月12日" in text and "星期四" in text, text


async def test_a_policy_question_of_the_same_intent_stays_with_the_kb(actions: ActionCore) -> None:
    conv = actions.open()
    text = reply(await say(conv, "How do I track my order?", "en"))
    assert "tracking number" in text.lower() and actions.backend.requests == []


def order_screen_turn() -> tuple[str, dict[str, object]]:
    """What the screen reader hands the core for samples/screens/order_en.png (its labelled fields)."""
    sample = json.loads((SAMPLES / "screens" / "order_en.json").read_text(encoding="utf-8"))
    fields = [Field(kind, value) for kind, values in sample["fields"].items() for value in values]
    full = " ".join(item["text"] for item in sample["items"])
    text = summarise("order", fields, full, "en")
    return text, {"kind": "order", "fields": [{"kind": f.kind, "value": f.value, "label": f.label}
                                              for f in fields], "full_text": full}


async def test_a_screenshot_of_the_order_fills_the_order_number(actions: ActionCore) -> None:
    conv = actions.open()
    text, detail = order_screen_turn()
    answer = reply(await say(conv, text, "en", "screen", detail))
    assert "A1029 has shipped" in answer and "1Z999AA10123456784" in answer, answer
    assert actions.backend.requests[0][1] == "/api/orders/A1029"


async def test_an_unknown_order_is_said_plainly(actions: ActionCore) -> None:
    conv = actions.open()
    text = reply(await say(conv, "Where is my order B7777?", "en"))
    assert "couldn't find an order B7777" in text
    assert actions.rows("action")[0]["outcome"] == "not-found"


async def test_a_return_is_created_only_after_the_caller_confirms(actions: ActionCore) -> None:
    conv = actions.open()
    assert "reason" in reply(await say(conv, "I want to return order A1029", "en"))
    readback = reply(await say(conv, "The earbuds arrived damaged", "en"))
    assert "A1029" in readback and "arrived damaged" in readback and "Shall I" in readback
    assert actions.backend.returns == []  # nothing changed before the yes
    done = reply(await say(conv, "yes", "en"))
    assert "R-0001" in done and "A1029" in done, done
    assert actions.backend.returns == [{"order_number": "A1029", "reason": "The earbuds arrived damaged"}]
    steps = [r["step"] for r in actions.rows("action-step")]
    assert steps == ["start", "confirmed"]


async def test_a_declined_return_changes_nothing(actions: ActionCore) -> None:
    conv = actions.open()
    await say(conv, "I want to return order A1029", "en")
    await say(conv, "wrong colour", "en")
    text = reply(await say(conv, "no", "en"))
    assert "haven't done anything" in text
    assert actions.backend.returns == [] and actions.backend.requests == []


async def test_an_address_change_needs_verification_first(actions: ActionCore) -> None:
    conv = actions.open("s-addr")
    await say(conv, "Please change the delivery address of order A1029", "en")
    await say(conv, "12 Elm Road, Springfield", "en")
    events = await say(conv, "yes", "en")
    assert any(isinstance(e, VerificationRequired) for e in events)
    assert actions.backend.addresses == []  # confirmed, but not verified yet
    wrong = reply(await say(conv, "000000", "en"))
    assert "doesn't match" in wrong and actions.backend.addresses == []
    code = actions.core.services.outbox.codes["s-addr"]
    done = reply(await say(conv, code, "en"))
    assert "verified" in done and "12 Elm Road" in done and "Friday, May 17" in done, done
    assert actions.backend.addresses == [{"order": "A1029", "address": "12 Elm Road, Springfield"}]
    assert code not in actions.dump()


async def test_three_wrong_codes_hand_off_and_change_nothing(actions: ActionCore) -> None:
    conv = actions.open("s-lock")
    await say(conv, "I need to update the shipping address for order A1029", "en")
    await say(conv, "1 Main St", "en")
    await say(conv, "yes", "en")
    events = []
    for _ in range(3):
        events = await say(conv, "111111", "en")
    assert [e.reason for e in events if isinstance(e, Handoff)] == ["verification-failed"]
    assert actions.backend.addresses == []


@pytest.mark.parametrize("mode,outcome,attempts", [
    ("slow", "timeout", 2), ("500", "http-5xx", 2), ("garbage", "bad-json", 1)])
async def test_a_failing_service_gets_an_honest_reply_and_the_call_goes_on(
        actions: ActionCore, mode: str, outcome: str, attempts: int) -> None:
    actions.backend.mode, actions.backend.delay_s = mode, 1.5  # the timeout is 0.5 s
    conv = actions.open()
    events = await say(conv, "Where is my order A1029?", "en")
    text = reply(events)
    assert "can't reach our order system" in text and "connect you to a person" in text, text
    assert finals(events) == 1
    (row,) = actions.rows("action")
    assert row["outcome"] == outcome and row["attempts"] == attempts  # reads are retried once
    follow = reply(await say(conv, "How long do I have to return an item?", "en"))
    assert "30 days" in follow  # the session goes on
    kinds = [r["text"] for r in actions.rows("turn")]
    assert kinds == ["Where is my order A1029?", "How long do I have to return an item?"]


async def test_after_a_failure_yes_hands_the_caller_to_a_person(actions: ActionCore) -> None:
    actions.backend.mode = "500"
    conv = actions.open()
    await say(conv, "Where is my order A1029?", "en")
    events = await say(conv, "yes please", "en")
    handoffs = [e for e in events if isinstance(e, Handoff)]
    assert [e.reason for e in handoffs] == ["action-failed"]
    assert handoffs[0].package["slots"]["order_number"].startswith("A1029")  # the person sees the order


async def test_a_change_is_never_retried(actions: ActionCore) -> None:
    conv = actions.open()
    await say(conv, "I want to return order A1029", "en")
    await say(conv, "Too small", "en")
    actions.backend.mode = "500"
    text = reply(await say(conv, "yes", "en"))
    assert "can't tell whether your request went through" in text
    assert [m for m, _, _ in actions.backend.requests] == ["POST"]
    assert actions.rows("action")[0]["attempts"] == 1


async def test_the_breaker_stops_calling_a_flapping_service(tmp_path, kb_db, backend) -> None:
    from tests.actions.conftest import make_core

    built = make_core(tmp_path, kb_db, backend, timeout_s=0.5, failures=2)
    try:
        backend.mode = "500"
        conv = built.open()
        for _ in range(2):
            await say(conv, "Where is my order A1029?", "en")
            await say(conv, "no", "en")  # declines the offer of a person
        sent = len(backend.requests)
        text = reply(await say(conv, "Where is my order A1029?", "en"))
        assert len(backend.requests) == sent  # open circuit: no request, an immediate honest reply
        assert "can't reach our order system" in text
        assert [r["outcome"] for r in built.rows("action")] == ["http-5xx", "http-5xx", "circuit-open"]
    finally:
        await built.core.aclose()


async def test_a_tenant_with_its_own_actions_never_uses_anothers(tmp_path, kb_db, backend) -> None:
    import dataclasses

    from gateway.core.build import build_core
    from gateway.core.settings import CoreSettings
    from tests.actions.backend import actions_file

    root = tmp_path / "tenant-actions"
    actions_file(root / "acme", backend.url)
    settings = CoreSettings(db_path=str(kb_db), records_path=":memory:", embeddings=False,
                            tenant_actions_root=str(root))
    core = build_core(settings)
    try:
        acme = core.open_conversation(session_id="a", channel="web", language="en", tenant="acme")
        globex = core.open_conversation(session_id="g", channel="web", language="en", tenant="globex")
        assert "A1029 has shipped" in reply(await say(acme, "Where is my order A1029?", "en"))
        assert "A1029" not in reply(await say(globex, "Where is my order A1029?", "en"))
        assert len(backend.requests) == 1  # only acme's session reached acme's order service
    finally:
        await core.aclose()
    bad = tmp_path / "bad-root"
    (bad / "not a tenant!").mkdir(parents=True)
    import pytest

    from gateway.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a tenant name"):
        dataclasses.replace(settings, tenant_actions_root=str(bad)).validate()


async def test_an_order_number_said_earlier_does_not_turn_a_policy_question_into_an_action(
        actions: ActionCore) -> None:
    conv = actions.open()
    await say(conv, "My order MLH-123456 has a wobbly chair leg", "en")
    await say(conv, "yes", "en")  # confirms the order number the core read back
    text = reply(await say(conv, "How long does a refund take?", "en"))
    assert "Did that answer your question?" in text and "reason" not in text  # a knowledge answer
    assert actions.rows("action-step") == []
    started = reply(await say(conv, "I want to return it", "en"))  # now it is an action: number known
    assert "reason" in started and "order number" not in started.lower()


class _ReadsOrderStatus:
    """A stand-in classifier: every turn means order_status (the keyword rules see nothing here)."""

    def read(self, text: str, language: str) -> Reading:
        return Reading("order_status", 0.9, Intent("order_status", "order_status", kb=("shipping",)))

    def catalog_intent(self, name: str) -> Intent | None:
        return None


async def test_actions_are_routed_by_the_same_understanding(actions: ActionCore) -> None:
    """Issue 13: what the classifier understands picks the action, not the keyword rules alone."""
    text = "any news on A1029? it still hasn't turned up"
    assert classify(text) == "other"  # the keyword rules alone would leave it to the knowledge base
    actions.core.services.understanding = _ReadsOrderStatus()
    events = await say(actions.open("meaning"), text, "en")
    assert "A1029 has shipped" in reply(events), reply(events)
    assert [r[:2] for r in actions.backend.requests] == [("GET", "/api/orders/A1029")]


async def test_a_request_for_a_person_keeps_its_keyword_floor(actions: ActionCore) -> None:
    actions.core.services.understanding = _ReadsOrderStatus()
    events = await say(actions.open("person"), "let me talk to a real person about A1029", "en")
    assert any(isinstance(e, Handoff) and e.reason == "caller-request" for e in events)
    assert actions.backend.requests == []
