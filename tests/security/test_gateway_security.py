"""Security as wired into the real gateway (local_gateway on a loopback port, real sockets):
refused upgrades are HTTP 401/403 naming the code; a credential decides the session's tenant
and role; another tenant's stored session cannot be resumed; per-tenant session caps, per-
connection rate limits, phone-bridge secrets, and the audit trail of an agent's take-over."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TypedDict

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from gateway.client import next_of
from gateway.security import issue_jwt
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e]

SECRET = "w" * 40
BRIDGE_SECRET = "b" * 24


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    base = make_settings(tmp_path_factory.mktemp("secured"))
    settings = dataclasses.replace(base, security=dataclasses.replace(
        base.security, mode="required", jwt_secret=SECRET, allowed_origins=("https://app.example.com",),
        max_sessions_per_tenant=2, max_messages_per_s=10, bridge_secret=BRIDGE_SECRET))
    gw = GatewayThread(settings, preload=False).start()  # no audio here: no speech models needed
    yield gw
    gw.stop()


def token(*, tenant: str = "acme", role: str = "caller", subject: str = "alice") -> str:
    return issue_jwt(SECRET, tenant=tenant, role=role, subject=subject, audience="cc-gateway",
                     now=time.time())


class Auth(TypedDict):
    """connect() keyword arguments carrying a bearer token."""

    additional_headers: dict[str, str]


def auth(tok: str) -> Auth:
    return {"additional_headers": {"Authorization": f"Bearer {tok}"}}


async def refused(url: str, *, additional_headers: dict[str, str] | None = None,
                  origin: Origin | None = None) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as err:
        async with connect(url, additional_headers=additional_headers, origin=origin):
            pass
    response = err.value.response
    return response.status_code, json.loads(response.body)["code"]


async def start(ws: ClientConnection, **fields: object) -> dict:
    await ws.send(json.dumps({"type": "session.start", "audio": {"sample_rate": 16000}, **fields}))
    return json.loads(await asyncio.wait_for(ws.recv(), 20))


async def test_upgrades_without_valid_credentials_are_refused(secured: GatewayThread) -> None:
    url = secured.url
    assert await refused(url) == (401, "auth-missing")
    forged = issue_jwt("x" * 40, tenant="acme", role="admin", subject="m", audience="cc-gateway",
                       now=time.time())
    assert await refused(url, **auth(forged)) == (401, "auth-invalid")
    old = issue_jwt(SECRET, tenant="acme", role="agent", subject="a", audience="cc-gateway",
                    now=time.time() - 7200, ttl_s=600)
    assert await refused(url + f"?access_token={old}") == (401, "auth-expired")
    assert await refused(url + f"?access_token={token()}", origin=Origin("https://evil.example.net")) == \
        (403, "origin-forbidden")


async def test_the_credential_decides_tenant_and_role(secured: GatewayThread) -> None:
    async with connect(secured.url, origin=Origin("https://app.example.com"), **auth(token())) as ws:
        started = await start(ws)  # no tenant named: the credential's own
        assert started["type"] == "session.started"
        assert secured.gateway is not None
        live = secured.gateway.sessions[started["session_id"]]
        assert live.request.tenant == "acme"
    async with connect(secured.url, **auth(token())) as ws:
        refusal = await start(ws, tenant="globex")
        assert (refusal["type"], refusal["code"]) == ("error", "tenant-forbidden")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    async with connect(secured.url, **auth(token())) as ws:
        refusal = await start(ws, role="agent")
        assert (refusal["type"], refusal["code"]) == ("error", "role-forbidden")


async def test_another_tenants_session_cannot_be_resumed(secured: GatewayThread) -> None:
    async with connect(secured.url, **auth(token(tenant="acme"))) as ws:
        started = await start(ws)
        await ws.send(json.dumps({"type": "text", "text": "Where is my order A1029?"}))
        await next_of(ws, "turn.timing", wait=60)
        await ws.send(json.dumps({"type": "session.end"}))
    async with connect(secured.url, **auth(token(tenant="globex"))) as ws:
        refusal = await start(ws, session_id=started["session_id"])
        assert (refusal["type"], refusal["code"]) == ("error", "tenant-forbidden")
    path = secured.settings.store.path
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT tenant FROM sessions WHERE id = ?", (started["session_id"],)).fetchall()
        texts = [r[0] for r in db.execute("SELECT text FROM turns WHERE session_id = ?",
                                          (started["session_id"],))]
    assert rows == [("acme",)] and texts[0] == "Where is my order A1029?"


async def test_tenant_session_cap_answers_busy(secured: GatewayThread) -> None:
    async with connect(secured.url, **auth(token(tenant="capped"))) as one, \
            connect(secured.url, **auth(token(tenant="capped"))) as two, \
            connect(secured.url, **auth(token(tenant="capped"))) as three:
        assert (await start(one))["type"] == "session.started"
        assert (await start(two))["type"] == "session.started"
        third = await start(three)
        assert (third["type"], third["code"]) == ("error", "tenant-busy")
        async with connect(secured.url, **auth(token(tenant="other"))) as elsewhere:
            assert (await start(elsewhere))["type"] == "session.started"  # other tenants unaffected


async def test_message_flood_is_rate_limited_and_the_session_lives(secured: GatewayThread) -> None:
    async with connect(secured.url, **auth(token(tenant="flood"))) as ws:
        await start(ws)
        for i in range(80):  # 10 messages/s with a 4 s burst: 40 pass, the rest are refused
            await ws.send(json.dumps({"type": "played", "turn_id": i + 1}))
        codes: list[str] = []
        async with asyncio.timeout(20):
            while len(codes) < 30:
                raw = await ws.recv()
                message = json.loads(raw) if isinstance(raw, str) else {"type": "audio"}
                if message["type"] == "error":
                    codes.append(message["code"])
        assert set(codes) == {"rate-limited"}
        await asyncio.sleep(1.5)  # the bucket refills
        await ws.send(json.dumps({"type": "text", "text": "How long do I have to return an item?"}))
        final = await next_of(ws, "transcript.final", wait=60)
        assert final["text"] == "How long do I have to return an item?"


async def test_phone_bridge_needs_the_shared_secret(secured: GatewayThread) -> None:
    bridge = secured.url.replace("/ws", "/phone/asterisk")
    assert await refused(bridge) == (401, "auth-missing")
    assert await refused(bridge + "?secret=wrong-secret-value") == (401, "auth-invalid")
    async with connect(bridge + f"?secret={BRIDGE_SECRET}") as ws:
        await ws.send(json.dumps({"event": "nonsense"}))  # past the upgrade: the bridge protocol speaks
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)


async def test_agent_take_over_is_audited(secured: GatewayThread) -> None:
    async with connect(secured.url, **auth(token(tenant="acme", subject="caller-1"))) as caller, \
            connect(secured.url, **auth(token(tenant="acme", role="agent", subject="agent-ann"))) as agent:
        started = await start(caller)
        await caller.send(json.dumps({"type": "text", "text": "I want to talk to a person"}))
        await next_of(caller, "handoff", wait=60)
        await agent.send(json.dumps({"type": "session.start", "role": "agent"}))
        await next_of(agent, "agent.ready")
        await agent.send(json.dumps({"type": "agent.take", "session_id": started["session_id"]}))
        taken = await next_of(agent, "agent.session")
        assert taken["transcript"][0]["text"] == "I want to talk to a person"
        await agent.send(json.dumps({"type": "agent.release"}))
        await next_of(agent, "agent.queue")
    assert secured.gateway is not None
    secured.call(secured.gateway.store.flush())
    with sqlite3.connect(secured.settings.store.path) as db:
        actions = db.execute("SELECT subject, role, tenant, action FROM audit WHERE session_id = ?"
                             " ORDER BY at", (started["session_id"],)).fetchall()
    ann = ("agent-ann", "agent", "acme")
    assert actions == [(*ann, "take"), (*ann, "read-transcript"), (*ann, "release")]


def test_metrics_need_an_admin_credential(secured: GatewayThread) -> None:
    metrics = secured.url.replace("ws://", "http://").replace("/ws", "/metrics")

    def get(headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(metrics, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    status, body = get({})
    assert (status, json.loads(body)["code"]) == (401, "auth-missing")
    status, body = get({"Authorization": f"Bearer {token(role='agent')}"})
    assert (status, json.loads(body)["code"]) == (403, "role-forbidden")
    status, body = get({"Authorization": f"Bearer {token(role='admin', subject='prometheus')}"})
    assert status == 200 and b"gateway_sessions_active" in body
    health = metrics.replace("/metrics", "/health")
    with urllib.request.urlopen(health, timeout=10) as response:  # probes need no credential
        assert response.status == 200
