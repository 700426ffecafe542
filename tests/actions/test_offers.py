"""Proactive offers: at most one per call, only once the caller said the answer helped, never in a
complaint; and the A/B split that withholds them from half the sessions."""

from __future__ import annotations

from pathlib import Path

from gateway.core.actions.declarations import Experiment
from tests.actions.backend import Backend
from tests.actions.conftest import ActionCore, make_core, reply, say

EXPRESS = "express delivery arrives in 1 to 2 business days"


async def test_an_offer_follows_a_resolved_order_lookup_once_per_call(actions: ActionCore) -> None:
    conv = actions.open()
    first = reply(await say(conv, "Where is my order A1029?", "en"))
    assert "Did that answer your question?" in first and EXPRESS not in first  # not before it is resolved
    thanks = reply(await say(conv, "yes", "en"))
    assert thanks.startswith("Thank you for your feedback.") and EXPRESS in thanks
    assert actions.rows("offer") == [{"offer": "express_upgrade", "variant": ""}]
    await say(conv, "How long does standard delivery take?", "en")  # en/shipping.md: would lead to it
    again = reply(await say(conv, "yes", "en"))
    assert EXPRESS not in again and len(actions.rows("offer")) == 1  # one per call


async def test_a_knowledge_answer_can_lead_to_an_offer_but_a_no_cannot(actions: ActionCore) -> None:
    conv = actions.open("s-kb")
    await say(conv, "How long does standard delivery take?", "en")
    assert EXPRESS not in reply(await say(conv, "no", "en"))
    await say(conv, "What does express delivery cost?", "en")
    assert EXPRESS in reply(await say(conv, "yes", "en"))


async def test_no_offer_in_a_complaint(actions: ActionCore) -> None:
    conv = actions.open("s-angry")
    events = await say(conv, "This is terrible, I complain about how long standard delivery takes", "en")
    assert "Did that answer your question?" in reply(events)  # answered from en/shipping.md
    text = reply(await say(conv, "yes", "en"))
    assert EXPRESS not in text and actions.rows("offer") == []


def test_the_split_is_by_session_and_stable() -> None:
    experiment = Experiment("offers-test")
    arms = [experiment.variant(f"s{i}", "t") for i in range(200)]
    assert arms == [experiment.variant(f"s{i}", "t") for i in range(200)]
    assert 70 < arms.count("a") < 130
    assert Experiment("x", ("acme",)).variant("s1", "globex") == ""  # another tenant: no experiment


async def test_the_b_arm_gets_no_offer_and_each_session_records_its_arm(
        tmp_path: Path, kb_db: Path, backend: Backend) -> None:
    built = make_core(tmp_path, kb_db, backend, experiment="offers-test")
    try:
        experiment = built.core.services.actions.catalog.experiment  # type: ignore[union-attr]
        assert experiment is not None
        sids = {experiment.variant(f"s{i}", "t"): f"s{i}" for i in range(10)}
        heard = {}
        for arm, sid in sorted(sids.items()):
            conv = built.open(sid)
            await say(conv, "Where is my order A1029?", "en")
            heard[arm] = EXPRESS in reply(await say(conv, "yes", "en"))
        assert heard == {"a": True, "b": False}
        assert sorted(r["variant"] for r in built.rows("experiment")) == ["a", "b"]
    finally:
        await built.core.aclose()


def test_offers_are_validated(tmp_path: Path) -> None:
    import pytest

    from gateway.core.actions import load_catalog
    from gateway.errors import ConfigError
    from tests.conftest import SAMPLES

    text = (SAMPLES / "actions" / "shop.yaml").read_text(encoding="utf-8").replace(
        "actions: [promotion_lookup]}", "actions: [promo_lookup]}")
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'offers\.earbuds_bundle': after\.actions names unknown action"):
        load_catalog(tmp_path)
