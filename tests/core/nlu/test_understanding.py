"""The core on the bundled knowledge base with the real embedder and the default intent catalog:
the issue's examples, bad input, and the emergency check's in-process time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from gateway.core.api import Handoff, ReplyClause, VerificationRequired
from gateway.core.build import Core, build_core
from gateway.core.settings import CoreSettings
from tests.core.conftest import say

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    folder = tmp_path_factory.mktemp("nlu")
    built = build_core(CoreSettings(db_path=str(folder / "kb.sqlite3"), records_path=":memory:",
                                    intent_model_path=str(folder / "intents.npz")))
    yield built
    asyncio.run(built.aclose())


def _open(core: Core, sid: str):
    return core.open_conversation(session_id=sid, channel="test", language="auto", tenant="")


def _sources(events: list) -> list[str]:
    return [s for e in events if isinstance(e, ReplyClause) for s in e.sources]


@pytest.mark.parametrize(("text", "language"), [
    ("And so my fellow Americans, ask not what your country can do for you", "en"),
    ("今天上海天气怎么样", "zh"),
    ("你们卖不卖苹果手机", "zh"),
])
async def test_out_of_domain_gets_no_policy_quote(core: Core, text: str, language: str) -> None:
    events = await say(_open(core, f"ood-{hash(text)}"), text, language)
    assert _sources(events) == []
    reply = " ".join(e.text for e in events if isinstance(e, ReplyClause))
    assert "person" in reply or "人工" in reply


@pytest.mark.parametrize("text", ["thanks a lot!", "hello there", "谢谢你", "I just got back from holiday."])
async def test_small_talk_gets_a_short_reply_not_a_policy(core: Core, text: str) -> None:
    events = await say(_open(core, f"chat-{hash(text)}"), text)
    clauses = [e for e in events if isinstance(e, ReplyClause)]
    assert len(clauses) == 1 and clauses[0].final and not clauses[0].sources
    assert not any(isinstance(e, Handoff | VerificationRequired) for e in events)


@pytest.mark.parametrize("text", [
    "the heater I bought from you just went up in flames and the curtains are burning",
    "there's a smell of gas in the flat and I feel dizzy",
    "my son swallowed a button battery",
    "家里一股煤气味，我头好晕",
])
async def test_indirect_emergencies_reach_a_person(core: Core, text: str) -> None:
    events = await say(_open(core, f"em-{hash(text)}"), text)
    assert any(isinstance(e, Handoff) and e.reason == "emergency" and e.urgent for e in events)


# Real speech transcripts (../shared/realdata speech references) and literary/news sentences that
# are not in the catalog: sorrow, loss or danger told about others is no emergency now.
_NOT_EMERGENCIES = [
    "it was the first great sorrow of his life it was not so much the loss of the cotton itself but the "
    "fantasy the hopes the dreams built around it",
    "IT WAS THE FIRST GREAT SORROW OF HIS LIFE IT WAS NOT SO MUCH THE LOSS OF THE COTTON ITSELF",
    "And so my fellow Americans ask not what your country can do for you "
    "ask what you can do for your country.",
    "A gold ring will please most any girl. The long journey home took a year. She saw a cat in the "
    "neighbor's house. A pink shell was found on the sandy beach.",
    "Small children came to see him.", "The grass and bushes were wet with dew.",
    "A severe storm tore down the barn.", "The blind man counted his old coins.",
    "She called his name many times.", "When you hear the bell, come quickly.",
    "the old king died of grief after his sons were lost at sea",
    "in the novel the heroine drowns herself in the river",
    "her mother's death was the great tragedy of her childhood", "he lost everything in the crash of 1929",
    "去年那场地震死了很多人，新闻里天天在报", "他一生中最大的悲痛是失去了母亲", "广州市房地产中介协会分析",
    "your prices are fire, thanks",
]


@pytest.mark.parametrize("text", _NOT_EMERGENCIES)
async def test_stories_news_and_slang_are_not_emergencies(core: Core, text: str) -> None:
    events = await say(_open(core, f"nem-{hash(text)}"), text)
    assert not any(isinstance(e, Handoff) and e.reason == "emergency" for e in events)


@pytest.mark.parametrize("text", ["put me through to someone in charge", "帮我找个负责人"])
async def test_person_requests_by_meaning(core: Core, text: str) -> None:
    events = await say(_open(core, f"ho-{hash(text)}"), text)
    assert any(isinstance(e, Handoff) and e.reason == "caller-request" for e in events)


@pytest.mark.parametrize("text", ["我要提八千美元", "get rid of my account completely",
                                  "withdraw eight thousand dollars from my wallet"])
async def test_high_risk_by_meaning_needs_verification(core: Core, text: str) -> None:
    events = await say(_open(core, f"risk-{hash(text)}"), text)
    assert any(isinstance(e, VerificationRequired) for e in events)


async def test_a_new_question_after_an_faq_answer_is_not_steered_by_its_question_type(core: Core) -> None:
    """The last answer's topic is an FAQ title phrased as a question ("How long do I have to return
    an item?"); a short new question leaning on it must not inherit its "how long"."""
    conv = _open(core, "faq-topic")
    first = " ".join(e.text for e in await say(conv, "How long do I have to return an item?", "en")
                     if isinstance(e, ReplyClause))
    assert "30 days" in first
    second = await say(conv, "When will I get my refund?", "en")
    assert "business days" in " ".join(e.text for e in second if isinstance(e, ReplyClause))


async def test_follow_up_resolves_against_the_state_not_the_words(core: Core) -> None:
    conv = _open(core, "blender")
    await say(conv, "My blender broke after three months.", "en")
    events = await say(conv, "how do I get it fixed", "en")
    assert any("warranty" in s for s in _sources(events)), _sources(events)
    assert not any("instalments" in s for s in _sources(events))


async def test_ok_and_a_question_is_answered(core: Core) -> None:
    conv = _open(core, "ok-and")
    await say(conv, "How long do I have to return an item?", "en")
    events = await say(conv, "ok, and how do I start a return?", "en")
    assert any("return" in s for s in _sources(events))


@pytest.mark.parametrize("text", ["", "   ", "x" * 4000, "😀😀😀🎉", "我想 return 这个 lamp 可以吗 ✨",
                                  "hello\x00\x07\x1b[31m can I return a lamp", "\u202e\u200b\ufeff"])
async def test_bad_input_gets_a_sensible_reply(core: Core, text: str) -> None:
    events = await say(_open(core, f"bad-{hash(text)}"), text)
    clauses = [e for e in events if isinstance(e, ReplyClause)]
    assert clauses and clauses[-1].final and sum(c.final for c in clauses) == 1


def test_emergency_check_in_process_time(core: Core) -> None:
    """In-process, on a shared machine: printed, not asserted (no timing-based pass/fail)."""
    understanding = core.services.understanding
    understanding.read("warm up", "en")
    times = []
    for text in ["the lamp is smoking", "where is my parcel", "我家着火了", "how long is the warranty"] * 5:
        started = time.perf_counter()
        understanding.read(text, "en")
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    print(f"emergency + intent read, in-process: p50 {times[len(times) // 2]:.1f} ms, max {times[-1]:.1f} ms")
