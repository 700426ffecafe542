"""Understanding started in the caller's pause (gateway.core.prepared): reused by the turn that
ends on the same words, never a change of state, never a second read of the same words."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading

from gateway.core.api import ReplyClause, TextTurn
from gateway.core.build import Core
from gateway.core.conversation import CoreConversation
from gateway.core.nlu.understand import Intent, PhraseUnderstanding, Reading

QUESTION = TextTurn("How long do I have to return an item?", "en", "speech")


class CountingUnderstanding:
    """The phrase lists, counting reads; `gate` holds each read until set (a slow classifier)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.inner = PhraseUnderstanding()
        self.reads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = fail

    def read(self, text: str, language: str) -> Reading:
        self.gate.wait(5)
        self.reads.append(text)
        if self.fail:
            self.fail = False
            raise RuntimeError("classifier crashed")
        return self.inner.read(text, language)

    def catalog_intent(self, name: str) -> Intent | None:
        return None


def _open(core: Core, understanding: CountingUnderstanding) -> CoreConversation:
    services = dataclasses.replace(core.services, understanding=understanding)
    return CoreConversation(services, session_id="s1", channel="phone", language="en", tenant="")


async def _answer(conv: CoreConversation, turn: TextTurn) -> str:
    return " ".join([e.text async for e in conv.respond(turn) if isinstance(e, ReplyClause)])


async def test_the_turn_that_ends_on_the_prepared_words_reads_them_once(core: Core) -> None:
    understanding = CountingUnderstanding()
    conv = _open(core, understanding)
    before = (conv.turns, list(conv.state.window), core.services.records.dump_text())
    await conv.prepare(QUESTION)
    # Preparing changed nothing a caller, an agent or the store could see.
    assert (conv.turns, list(conv.state.window), core.services.records.dump_text()) == before
    assert understanding.reads == [QUESTION.text] and conv.prepared(QUESTION)

    reply = await _answer(conv, QUESTION)
    assert "30 days" in reply and understanding.reads == [QUESTION.text]  # not read a second time
    await conv.aclose()


async def test_other_words_are_read_again_and_answered_for_what_was_said(core: Core) -> None:
    understanding = CountingUnderstanding()
    conv = _open(core, understanding)
    await conv.prepare(TextTurn("How long do I have", "en", "speech"))  # the caller went on
    said = TextTurn("How long do I have to return an item?", "en", "speech")
    assert not conv.prepared(said)
    assert "30 days" in await _answer(conv, said)
    assert understanding.reads == ["How long do I have", said.text]
    await conv.aclose()


async def test_a_read_still_running_when_the_turn_ends_is_awaited_not_repeated(core: Core) -> None:
    understanding = CountingUnderstanding()
    understanding.gate.clear()
    conv = _open(core, understanding)
    preparing = asyncio.create_task(conv.prepare(QUESTION))
    await asyncio.sleep(0.05)
    assert conv.prepared(QUESTION)
    answering = asyncio.create_task(_answer(conv, QUESTION))
    await asyncio.sleep(0.05)
    preparing.cancel()  # the pause's task goes away (a barge-in, the session closing): the read goes on
    understanding.gate.set()
    assert "30 days" in await answering
    assert understanding.reads == [QUESTION.text]
    await conv.aclose()


async def test_a_failed_prepared_read_is_not_reused(core: Core) -> None:
    understanding = CountingUnderstanding(fail=True)
    conv = _open(core, understanding)
    with contextlib.suppress(RuntimeError):
        await conv.prepare(QUESTION)
    assert not conv.prepared(QUESTION)
    assert "30 days" in await _answer(conv, QUESTION)
    assert understanding.reads == [QUESTION.text, QUESTION.text]
    await conv.aclose()


async def test_words_respond_would_not_read_are_not_prepared(core: Core) -> None:
    understanding = CountingUnderstanding()
    conv = _open(core, understanding)
    await conv.prepare(TextTurn("my father has chest pain and can't breathe", "en", "speech"))
    await conv.prepare(TextTurn("   ", "en", "speech"))
    assert understanding.reads == []
    await conv.aclose()


async def test_the_core_bench_times_prepared_turns_beside_cold_ones(core: Core) -> None:
    from gateway.core.bench import bench_core

    questions = (("How long do I have to return an item?", "en"), ("退款多久到账？", "zh"))
    result = await bench_core(core, "grounded", questions=questions)
    assert len(result.first_clause_ms) == len(result.prepared_first_ms) == 2  # warm-up left out
    assert all(ms > 0 for ms in result.prepared_first_ms)
