"""A core on the bundled knowledge base, BM25 only (fast), shared by the policy tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.api import CoreEvent, TextTurn
from gateway.core.build import Core, build_core
from gateway.core.conversation import CoreConversation
from gateway.core.settings import CoreSettings


@pytest.fixture(scope="session")
def kb_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb") / "kb.sqlite3"


@pytest.fixture
def core(kb_db: Path) -> Iterator[Core]:
    built = build_core(CoreSettings(db_path=str(kb_db), records_path=":memory:", embeddings=False))
    yield built
    asyncio.run(built.aclose())


async def say(conv: CoreConversation, text: str, language: str = "", modality: str = "text"
              ) -> list[CoreEvent]:
    return [e async for e in conv.respond(TextTurn(text, language, modality))]  # type: ignore[arg-type]
