"""Per-tenant knowledge bases: settings, one index per tenant, the index chosen at open, records
carrying the tenant."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.core.api import ReplyClause, TextTurn
from gateway.core.build import Core, build_core
from gateway.core.conversation import CoreConversation
from gateway.core.kb.documents import KnowledgeError
from gateway.core.messages import say as message
from gateway.core.records import CoreRecords
from gateway.core.settings import CoreSettings
from gateway.errors import ConfigError
from tests.core.kb.test_ingest import CountingEmbedder

ZEPHYR = "What discount does the Zephyr loyalty card give?"
RETURNS = "How long do I have to return an item?"
NO_ANSWER = message("no-answer", "en")


def write_doc(folder: Path, name: str, title: str, section: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"---\ntitle: {title}\nlanguage: en\n---\n# {title}\n\n## {section}\n{text}\n",
                               "utf-8")


@pytest.fixture
def tenant_root(tmp_path: Path) -> Path:
    root = tmp_path / "tenants"
    write_doc(root / "acme", "hours.md", "Opening hours", "Store hours",
              "Acme stores open at 9 am and close at 8 pm, Monday to Saturday.")
    write_doc(root / "globex", "loyalty.md", "Loyalty programme", "Zephyr loyalty card",
              "The Zephyr loyalty card gives 7% off every order.")
    (root / "README.md").write_text("one folder per tenant\n", "utf-8")  # not a tenant
    (root / ".git").mkdir()  # hidden: not a tenant
    return root


def settings_for(tmp_path: Path, root: Path, **changes: object) -> CoreSettings:
    return CoreSettings(db_path=str(tmp_path / "kb.sqlite3"), records_path=":memory:", embeddings=False,
                        tenant_kb_root=str(root), **changes)  # type: ignore[arg-type]


@pytest.fixture
def core(tmp_path: Path, tenant_root: Path) -> Iterator[Core]:
    built = build_core(settings_for(tmp_path, tenant_root))
    yield built
    asyncio.run(built.aclose())


def ask(core: Core, tenant: str, text: str, session_id: str = "s1") -> str:
    async def run() -> str:
        conv = core.open(session_id=session_id, channel="websocket", language="en", tenant=tenant)
        events = [e async for e in conv.respond(TextTurn(text, "en", "text"))]
        await conv.aclose()
        return " ".join(e.text for e in events if isinstance(e, ReplyClause))
    return asyncio.run(run())


# ---------------------------------------------------------------------- settings


def test_tenant_folders_are_the_subfolders_of_the_root(tenant_root: Path) -> None:
    settings = CoreSettings(tenant_kb_root=str(tenant_root)).validate()
    assert settings.tenant_kb_folders() == {"acme": tenant_root / "acme", "globex": tenant_root / "globex"}
    assert CoreSettings().tenant_kb_folders() == {}


def test_tenant_index_files_sit_beside_the_shared_one() -> None:
    assert CoreSettings(db_path="var/kb.sqlite3").tenant_db_path("acme") == "var/kb.acme.sqlite3"
    assert CoreSettings(db_path=":memory:").tenant_db_path("acme") == ":memory:"


@pytest.mark.parametrize(("changes", "message"), [
    ({"tenant_kb_root": "/nonexistent/tenants"}, "core.tenant_kb_root"),
    ({"tenant_kb_fallback": "other"}, "core.tenant_kb_fallback must be one of"),
    ({"tenant_kb_fallback": "none"}, "core.tenant_kb_fallback = 'none' needs core.tenant_kb_root"),
])
def test_bad_tenant_settings_name_the_field(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CoreSettings(**changes).validate()  # type: ignore[arg-type]
    assert message in str(info.value) and info.value.code == "config-invalid"


@pytest.mark.parametrize("name", ["bad name", "über", "x" * 65])
def test_a_folder_that_is_no_tenant_name_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match="is not a tenant name"):
        CoreSettings(tenant_kb_root=str(tmp_path)).validate()


def test_a_file_as_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kb.md").write_text("x", "utf-8")
    with pytest.raises(ConfigError, match="is not a folder"):
        CoreSettings(tenant_kb_root=str(tmp_path / "kb.md")).validate()


def test_loaded_from_toml_and_overridden_by_the_environment(tmp_path: Path, tenant_root: Path) -> None:
    toml = tmp_path / "gateway.toml"
    toml.write_text(f'[core]\ntenant_kb_root = "{tenant_root.as_posix()}"\ntenant_kb_fallback = "none"\n',
                    "utf-8")
    core = load_settings(str(toml), environ={}).core
    assert (core.tenant_kb_root, core.tenant_kb_fallback) == (str(tenant_root.as_posix()), "none")
    assert set(core.tenant_kb_folders()) == {"acme", "globex"}
    env = load_settings(str(toml), environ={"GATEWAY_CORE__TENANT_KB_FALLBACK": "shared"}).core
    assert env.tenant_kb_fallback == "shared"
    with pytest.raises(ConfigError, match=r"core\.tenant_kb_root"):
        load_settings(environ={"GATEWAY_CORE__TENANT_KB_ROOT": str(tmp_path / "missing")})


# ---------------------------------------------------------------------- build and open


def test_each_tenant_is_answered_from_its_own_knowledge_only(core: Core, tmp_path: Path) -> None:
    assert core.tenants == ("acme", "globex")
    assert "7% off" in ask(core, "globex", ZEPHYR)  # first: the fact is findable at all
    assert "7%" not in ask(core, "acme", ZEPHYR) and ask(core, "acme", ZEPHYR) == NO_ANSWER
    assert "9 am" in ask(core, "acme", "When do your stores open?")
    assert ask(core, "globex", "When do your stores open?") == NO_ANSWER
    # A tenant with its own folder does not see the shared knowledge base either.
    assert ask(core, "acme", RETURNS) == NO_ANSWER
    assert {p.name for p in tmp_path.iterdir()} >= {"kb.sqlite3", "kb.acme.sqlite3", "kb.globex.sqlite3"}


def test_a_tenant_without_a_folder_uses_the_shared_knowledge_base(core: Core) -> None:
    assert "30 days" in ask(core, "initech", RETURNS)
    assert "30 days" in ask(core, "default", RETURNS)
    assert "7%" not in ask(core, "initech", ZEPHYR)


def test_fallback_none_gives_tenants_without_a_folder_no_knowledge(tmp_path: Path, tenant_root: Path) -> None:
    built = build_core(settings_for(tmp_path, tenant_root, tenant_kb_fallback="none"))
    try:
        assert ask(built, "initech", RETURNS) == NO_ANSWER
        assert "7% off" in ask(built, "globex", ZEPHYR)
        assert "30 days" in built.services.index.search(RETURNS, "en", 1)[0].passage.text  # CLI search
    finally:
        asyncio.run(built.aclose())


def test_the_conversation_holds_its_tenants_index_only(core: Core) -> None:
    conv = core.open_conversation(session_id="s1", channel="websocket", language="en", tenant="acme")
    assert isinstance(conv, CoreConversation)
    assert conv.services.index is core.services_for("acme").index
    assert conv.services.index is not core.services_for("globex").index
    assert conv.services.index is not core.services.index
    # Shared by every tenant: what is keyed by session.
    assert conv.services.records is core.services.records and conv.services.agents is core.services.agents


def test_one_embedder_serves_every_tenants_index(tmp_path: Path, tenant_root: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[CountingEmbedder] = []

    def make(settings: CoreSettings) -> CountingEmbedder:
        made.append(CountingEmbedder())
        return made[-1]

    monkeypatch.setattr("gateway.core.build.make_embedder", make)
    built = build_core(settings_for(tmp_path, tenant_root))
    try:
        assert len(made) == 1
        assert all(built.services_for(t).index.hybrid for t in ("acme", "globex", "initech"))
        embedded = " ".join(made[0].embedded)
        assert "Zephyr" in embedded and "Acme stores" in embedded
    finally:
        asyncio.run(built.aclose())


def test_a_bad_document_in_a_tenant_folder_fails_the_build(tmp_path: Path, tenant_root: Path) -> None:
    (tenant_root / "globex" / "bad.yaml").write_text("- question: no answer\n", "utf-8")
    with pytest.raises(KnowledgeError, match=r"bad\.yaml"):
        build_core(settings_for(tmp_path, tenant_root))


# ---------------------------------------------------------------------- records


def test_records_and_feedback_carry_the_tenant(core: Core) -> None:
    async def run() -> None:
        conv = core.open(session_id="g1", channel="websocket", language="en", tenant="globex")
        _ = [e async for e in conv.respond(TextTurn(ZEPHYR, "en", "text"))]
        _ = [e async for e in conv.respond(TextTurn("yes", "en", "text"))]  # "did that answer it?"
    asyncio.run(run())
    records = core.services.records
    assert records.summary("globex").helpful == 1 and records.summary("acme").answered == 0
    assert records.summary().answered == 1
    assert '"globex"' in records.dump_text()


def test_old_records_files_gain_the_tenant_column(tmp_path: Path) -> None:
    path = tmp_path / "core.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE feedback (session_id TEXT NOT NULL, turn INTEGER NOT NULL, question TEXT "
                   "NOT NULL, sources TEXT NOT NULL, helpful INTEGER NOT NULL, language TEXT NOT NULL, "
                   "at REAL NOT NULL)")
        db.execute("INSERT INTO feedback VALUES ('old', 1, 'q', '[]', 1, 'en', 0)")
    db.close()
    records = CoreRecords(str(path))
    records.feedback("new", 1, "q", ("a#b",), False, "en", tenant="acme")
    records.record("new", 1, "turn", {"text": "hi"}, tenant="acme")
    counts = [records.summary(tenant).answered for tenant in (None, "acme", "")]
    assert counts == [2, 1, 1]  # the old row belongs to no tenant
    records.close()
