"""A core whose actions reach a real HTTP order service on a loopback port (tests/actions/backend.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.core.api import CoreEvent, ReplyClause, TextTurn
from gateway.core.build import Core, build_core
from gateway.core.conversation import CoreConversation
from gateway.core.settings import CoreSettings
from tests.actions.backend import Backend, actions_file, running_backend


@pytest.fixture(scope="session")
def kb_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kb") / "kb.sqlite3"


@pytest.fixture
def backend() -> Iterator[Backend]:
    with running_backend() as b:
        yield b


@dataclasses.dataclass
class ActionCore:
    core: Core
    backend: Backend
    records: Path

    def open(self, sid: str = "s1", language: str = "en") -> CoreConversation:
        return self.core.open_conversation(session_id=sid, channel="web", language=language, tenant="t")

    def rows(self, kind: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.records) as db:
            return [json.loads(d) for (d,) in db.execute(
                "SELECT detail FROM core_events WHERE kind = ? ORDER BY rowid", (kind,))]

    def dump(self) -> str:
        return self.core.services.records.dump_text()


def make_core(tmp: Path, kb_db: Path, backend: Backend, *, llm: bool = False, **yaml: Any) -> ActionCore:
    folder = actions_file(tmp / "actions", backend.url, **yaml)
    records = tmp / "core.sqlite3"
    settings = CoreSettings(db_path=str(kb_db), records_path=str(records), embeddings=False,
                            actions_path=str(folder))
    if llm:  # the OpenAI-compatible backend: actions are also offered to it as tools
        settings = dataclasses.replace(settings, backend="openai", openai_url=backend.llm_url,
                                       llm_first_token_s=0.5, llm_timeout_s=1.0)
    return ActionCore(build_core(settings), backend, records)


@pytest.fixture
def actions(tmp_path: Path, kb_db: Path, backend: Backend) -> Iterator[ActionCore]:
    built = make_core(tmp_path, kb_db, backend, timeout_s=0.5)
    yield built
    asyncio.run(built.core.aclose())


async def say(conv: CoreConversation, text: str, language: str = "", modality: str = "text",
              detail: dict[str, Any] | None = None) -> list[CoreEvent]:
    turn = TextTurn(text, language, modality, detail or {})  # type: ignore[arg-type]
    return [e async for e in conv.respond(turn)]


def reply(events: list[CoreEvent]) -> str:
    return " ".join(e.text for e in events if isinstance(e, ReplyClause))
