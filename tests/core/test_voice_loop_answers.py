"""The questions the voice loop relies on get grounded answers in the caller's language."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.core.api import ReplyClause, TextTurn
from gateway.core.build import Core, build_core
from gateway.core.settings import CoreSettings
from gateway.core.text import has_cjk


@pytest.fixture(scope="module", params=[False, True], ids=["bm25", "hybrid"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    db = tmp_path_factory.mktemp("kb") / "kb.sqlite3"
    built = build_core(CoreSettings(db_path=str(db), records_path=":memory:", embeddings=request.param,
                                    feedback=False))
    yield built
    asyncio.run(built.aclose())


async def _reply(core: Core, text: str, language: str) -> list[ReplyClause]:
    conv = core.open(session_id="s1", channel="test", language="auto", tenant="t")
    events = [e async for e in conv.respond(TextTurn(text, language, "speech"))]
    await conv.aclose()
    return [e for e in events if isinstance(e, ReplyClause)]


@pytest.mark.parametrize("language", ["en", ""])
async def test_english_return_window(core: Core, language: str) -> None:
    clauses = await _reply(core, "How long do I have to return an item?", language)
    assert clauses and clauses[-1].final and not any(c.final for c in clauses[:-1])
    text = " ".join(c.text for c in clauses)
    assert "30 days" in text and not has_cjk(text)
    assert all(c.language == "en" for c in clauses)
    assert all(s.startswith("en/") and "return" in s for c in clauses for s in c.sources)
    assert all(c.sources for c in clauses)


@pytest.mark.parametrize("language", ["zh", ""])
async def test_chinese_return_window(core: Core, language: str) -> None:
    clauses = await _reply(core, "我想退货，需要多长时间？", language)
    text = "".join(c.text for c in clauses)
    assert "30天" in text and clauses[-1].final
    assert all(c.language == "zh" for c in clauses)
    assert all(s.startswith("zh/") and "return" in s for c in clauses for s in c.sources)


async def test_unknown_question_offers_a_person(core: Core) -> None:
    clauses = await _reply(core, "What is the capital of France?", "en")
    text = " ".join(c.text for c in clauses)
    assert "person" in text and not any(c.sources for c in clauses)
