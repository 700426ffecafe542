"""Per-tenant knowledge bases through the real gateway (loopback port, real sockets): a credential
for tenant A never gets an answer from tenant B's knowledge base, while B's own credential does.

Each tenant has its own folder under core.tenant_kb_root; the fact asked about is only in B's.
B is asked first, so the test fails if tenants were ignored (A would then get the fact too)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from gateway.core.messages import say
from gateway.security import hash_api_key, issue_jwt, new_api_key
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e]

SECRET = "t" * 40
KEY_A, KEY_B = new_api_key(), new_api_key()
QUESTION = "What discount does the Zephyr loyalty card give?"
FACT = "7% off"
NO_ANSWER = say("no-answer", "en")


def write_doc(folder: Path, name: str, title: str, section: str, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / name).write_text(f"---\ntitle: {title}\nlanguage: en\n---\n# {title}\n\n## {section}\n{text}\n",
                               "utf-8")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    tmp = tmp_path_factory.mktemp("tenant-kb")
    root = tmp / "tenants"
    write_doc(root / "acme", "hours.md", "Opening hours", "Store hours",
              "Acme stores open at 9 am and close at 8 pm, Monday to Saturday.")
    write_doc(root / "globex", "loyalty.md", "Loyalty programme", "Zephyr loyalty card",
              f"The Zephyr loyalty card gives {FACT} every order. Ask for it at any Globex store.")
    base = make_settings(tmp)
    settings = dataclasses.replace(
        base,
        core=dataclasses.replace(base.core, tenant_kb_root=str(root), embeddings=False,
                                 records_path=str(tmp / "core.sqlite3")),
        security=dataclasses.replace(base.security, mode="required", jwt_secret=SECRET, api_keys=(
            f"{hash_api_key(KEY_A)}:acme:caller:acme-web",
            f"{hash_api_key(KEY_B)}:globex:caller:globex-web")))
    gw = GatewayThread(settings, preload=False).start()  # text turns only: no speech models
    yield gw
    gw.stop()


def jwt(tenant: str) -> dict[str, object]:
    token = issue_jwt(SECRET, tenant=tenant, role="caller", subject=f"{tenant}-user", audience="cc-gateway",
                      now=time.time())
    return {"additional_headers": {"Authorization": f"Bearer {token}"}}


def api_key(key: str) -> dict[str, object]:
    return {"additional_headers": {"X-API-Key": key}}


CREDENTIALS = {
    "jwt": (jwt("acme"), jwt("globex")),
    "api-key": (api_key(KEY_A), api_key(KEY_B)),
}


async def ask(url: str, credential: dict[str, object], text: str, **start: object) -> tuple[str, dict]:
    """One session: start (with `start` fields), one text turn, the whole reply text and the start answer."""
    async with connect(url, **credential) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "session.start", "language": "en", **start}))
        started = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if started["type"] != "session.started":
            return "", started
        await ws.send(json.dumps({"type": "text", "text": text}))
        seen: list[dict[str, Any]] = []
        await next_of(ws, "reply.text", wait=60, where=lambda m: bool(m["final"]), seen=seen)
        await ws.send(json.dumps({"type": "session.end"}))
        return " ".join(m["text"] for m in seen if m["type"] == "reply.text"), started


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
async def test_a_tenant_never_gets_another_tenants_knowledge(gateway: GatewayThread, kind: str) -> None:
    cred_a, cred_b = CREDENTIALS[kind]
    reply_b, started_b = await ask(gateway.url, cred_b, QUESTION)
    assert FACT in reply_b, reply_b  # the fact is there to be found, for its own tenant
    reply_a, started_a = await ask(gateway.url, cred_a, QUESTION)
    assert started_a["type"] == started_b["type"] == "session.started"
    assert FACT not in reply_a and "Zephyr" not in reply_a
    assert reply_a == NO_ANSWER  # the core's no-answer: it offers a person instead
    # A's own knowledge still answers A, and not B.
    assert "9 am" in (await ask(gateway.url, cred_a, "What are your opening hours?"))[0]
    assert (await ask(gateway.url, cred_b, "What are your opening hours?"))[0] == NO_ANSWER


async def test_naming_the_other_tenant_is_refused(gateway: GatewayThread) -> None:
    cred_a, _ = CREDENTIALS["api-key"]
    reply, refusal = await ask(gateway.url, cred_a, QUESTION, tenant="globex")
    assert (refusal["type"], refusal["code"], reply) == ("error", "tenant-forbidden", "")


async def test_a_tenant_without_its_own_folder_gets_the_shared_knowledge(gateway: GatewayThread) -> None:
    reply, _ = await ask(gateway.url, jwt("initech"), "How long do I have to return an item?")
    assert "30 days" in reply  # the bundled sample knowledge base (core.kb_path)
    reply, _ = await ask(gateway.url, jwt("initech"), QUESTION)
    assert FACT not in reply
