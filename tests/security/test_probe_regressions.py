"""Issue 16, failures 1 (outgoing text), 2-9, replayed against a real gateway over real sockets.

Each test is one probe from the issue as an attacker or a careless client sent it; each failed on
the code before the fix (see the issue-16 report). The gateway runs on its own thread
(tests.conftest.GatewayThread) without speech models: every probe here is typed or protocol-level.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.client import next_of
from gateway.security import issue_jwt
from tests.conftest import PROJECT, GatewayThread, make_settings

pytestmark = [pytest.mark.e2e]

SECRET = "s" * 40
MAX_BAD = 20
MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    base = make_settings(tmp_path_factory.mktemp("probe"))
    settings = dataclasses.replace(base, security=dataclasses.replace(
        base.security, start_timeout_s=1.5, max_bad_frames=MAX_BAD, max_connections=MAX_CONNECTIONS))
    gateway = GatewayThread(settings, preload=False).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    """Required mode, a JWT secret, and no bridge credential at all (failure 4)."""
    base = make_settings(tmp_path_factory.mktemp("probe-secured"))
    settings = dataclasses.replace(base, security=dataclasses.replace(
        base.security, mode="required", jwt_secret=SECRET))
    gateway = GatewayThread(settings, preload=False).start()
    yield gateway
    gateway.stop()


def bearer(tenant: str) -> dict[str, object]:
    tok = issue_jwt(SECRET, tenant=tenant, role="caller", subject="probe", audience="cc-gateway",
                    now=time.time())
    return {"additional_headers": {"Authorization": f"Bearer {tok}"}}


async def start(ws: ClientConnection, **fields: object) -> dict:
    await ws.send(json.dumps({"type": "session.start", **fields}))
    return json.loads(await asyncio.wait_for(ws.recv(), 20))


def twilio_url(gateway: GatewayThread) -> str:
    return gateway.url.replace("/ws", "/phone/twilio")


def twilio_start(params: dict[str, str], sid: str = "MZprobe") -> str:
    return json.dumps({"event": "start", "streamSid": sid, "start": {
        "streamSid": sid, "callSid": "CAprobe", "accountSid": "AC0", "tracks": ["inbound"],
        "customParameters": params,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}},
        ensure_ascii=True)


def stored(gateway: GatewayThread, sql: str, *args: object) -> list[tuple]:
    assert gateway.gateway is not None
    gateway.call(gateway.gateway.store.flush())
    with sqlite3.connect(gateway.settings.store.path) as db:
        return db.execute(sql, args).fetchall()


async def closed(ws: ClientConnection, wait: float = 10) -> ConnectionClosed:
    """Reads until the server closes the connection; the close as an exception."""
    with pytest.raises(ConnectionClosed) as err:
        async with asyncio.timeout(wait):
            while True:
                await ws.recv()
    return err.value


# ------------------------------------------------------------------ 1: outgoing text encodable


async def test_a_lone_surrogate_in_a_typed_turn_comes_back_as_valid_utf8(gw: GatewayThread) -> None:
    async with connect(gw.url) as ws:
        session_id = (await start(ws))["session_id"]
        await ws.send('{"type": "text", "text": "hi \\ud800 there"}')  # the JSON escape, as sent
        final = await next_of(ws, "transcript.final")
        assert final["text"] == "hi \ufffd there"
        await next_of(ws, "turn.timing", wait=60)
        await ws.send(json.dumps({"type": "session.end"}))
        assert (await next_of(ws, "session.ended"))["reason"]
    texts = stored(gw, "SELECT text FROM turns WHERE session_id = ? AND speaker = 'caller'", session_id)
    assert texts == [("hi \ufffd there",)]


async def test_a_surrogate_in_twilio_custom_parameters_neither_breaks_the_call_nor_the_store(
        gw: GatewayThread) -> None:
    async with connect(twilio_url(gw)) as ws:
        await ws.send(twilio_start({"tenant": "acme\ud800", "caller": "+1555\udc00"}))
        refusal = await closed(ws)  # a tenant that is no tenant name: the call is refused, clearly
        assert refusal.rcvd is not None and refusal.rcvd.code == 1008
        assert refusal.rcvd.reason == "twilio-bad-parameter"
    async with connect(twilio_url(gw)) as ws:  # the caller field is only hashed: the call goes on
        await ws.send(twilio_start({"tenant": "surrogates", "caller": "+1555\udc00"}))
        await asyncio.sleep(0.5)
        await ws.send(json.dumps({"event": "stop", "streamSid": "MZprobe", "stop": {"callSid": "CAprobe"}}))
        await closed(ws)
    assert stored(gw, "SELECT channel FROM sessions WHERE tenant = 'surrogates'") == [("phone",)]


# ------------------------------------------------------------------ 2 and 4: serve refuses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(PYTHONPATH=str(PROJECT), GATEWAY_STORE__PATH=str(tmp_path / "t.sqlite3"),
               GATEWAY_CORE__DB_PATH=str(tmp_path / "kb.sqlite3"), GATEWAY_SERVER__PRELOAD="false",
               **extra)
    return env


def run_serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(free_port()), *args]
    return subprocess.run(command, env=serve_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=60, cwd=PROJECT)


def test_serve_on_every_interface_without_security_refuses_to_start(tmp_path: Path) -> None:
    done = run_serve(tmp_path, "--host", "0.0.0.0")
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--insecure" in lines[0] and "security.mode" in lines[0]


def test_serve_insecure_starts_with_a_loud_warning(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "gateway.cli.main", "serve", "--host", "0.0.0.0", "--insecure",
               "--port", str(free_port())]
    with subprocess.Popen(command, env=serve_env(tmp_path), cwd=PROJECT, stderr=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stderr is not None
            seen = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                if not line:
                    break
                seen.append(line)
                if "INSECURE" in line or "starting on" in line:
                    break
            assert any("INSECURE" in line and "0.0.0.0" in line for line in seen), seen
        finally:
            proc.kill()


def test_serve_in_required_mode_without_a_bridge_credential_refuses_to_start(tmp_path: Path) -> None:
    done = run_serve(tmp_path, GATEWAY_SECURITY__MODE="required", GATEWAY_SECURITY__JWT_SECRET=SECRET)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "bridge_secret" in done.stderr and len(done.stderr.strip().splitlines()) == 1


async def test_required_mode_phone_bridge_without_any_credential_is_refused(secured: GatewayThread) -> None:
    for path in ("/phone/twilio", "/phone/asterisk"):
        with pytest.raises(InvalidStatus) as err:
            async with connect(secured.url.replace("/ws", path)) as ws:
                await ws.send(twilio_start({"tenant": "victim"}))
        assert err.value.response.status_code == 401
        assert json.loads(err.value.response.body)["code"] == "auth-missing"


# ------------------------------------------------------------------ 3: DNS rebinding, scheme


async def upgrade_status(gateway: GatewayThread, origin: str, host: str | None = None) -> int:
    port = int(gateway.url.rsplit(":", 1)[1].split("/", 1)[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"GET /ws HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n")
    writer.write(request.encode())
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status.split()[1])


async def test_origin_is_checked_against_the_allow_list_not_the_host_header(gw: GatewayThread) -> None:
    port = int(gw.url.rsplit(":", 1)[1].split("/", 1)[0])
    rebound = f"rebind.evil.example:{port}"
    assert await upgrade_status(gw, f"http://{rebound}", host=rebound) == 403
    assert await upgrade_status(gw, f"https://127.0.0.1:{port}") == 403  # scheme counts
    assert await upgrade_status(gw, f"http://127.0.0.1:{port}") == 101  # the gateway's own pages
    assert await upgrade_status(gw, f"http://localhost:{port}", host=f"localhost:{port}") == 101


# ------------------------------------------------------------------ 5: unstarted connections


async def test_a_connection_that_never_starts_a_session_is_closed(gw: GatewayThread) -> None:
    async with connect(gw.url) as ws:
        error = await next_of(ws, "error", wait=10)
        assert error["code"] == "session-start-timeout"
        close = await closed(ws)
        assert close.rcvd is not None and close.rcvd.code == 1008
    async with connect(twilio_url(gw)) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        close = await closed(ws)
        assert close.rcvd is not None and close.rcvd.reason == "twilio-start-timeout"
    async with connect(gw.url.replace("/ws", "/phone/asterisk")) as ws:  # chan_websocket: no MEDIA_START
        close = await closed(ws, wait=5)  # security.start_timeout_s here, not the old fixed 10 s
        assert close.rcvd is not None and close.rcvd.reason == "chan-websocket-start-timeout"


async def test_unstarted_connections_count_toward_the_connection_limit(gw: GatewayThread) -> None:
    opened: list[ClientConnection] = []
    refused_with = None
    try:
        for _ in range(MAX_CONNECTIONS + 4):
            try:
                opened.append(await connect(gw.url))
            except InvalidStatus as err:
                refused_with = (err.value if hasattr(err, "value") else err).response
                break
    finally:
        for ws in opened:
            await ws.close()
    assert refused_with is not None, f"{len(opened)} idle connections all accepted"
    assert refused_with.status_code == 503 and json.loads(refused_with.body)["code"] == "busy"
    assert len(opened) <= MAX_CONNECTIONS


# ------------------------------------------------------------------ 6: invalid frames cut off


async def test_invalid_frames_cut_the_connection_off_and_error_rows_are_rate_limited(
        gw: GatewayThread) -> None:
    async with connect(gw.url) as ws:
        session_id = (await start(ws))["session_id"]
        for _ in range(MAX_BAD * 3):
            try:
                await ws.send(b"\x00\x01")
            except ConnectionClosed:
                break
        close = await closed(ws)
        assert close.rcvd is not None
        assert (close.rcvd.code, close.rcvd.reason) == (1008, "too-many-bad-frames")
    await asyncio.sleep(0.5)
    rows = stored(gw, "SELECT code FROM errors WHERE session_id = ?", session_id)
    assert 1 <= len(rows) <= 12, len(rows)  # a burst of 10 at 2/s, not one per frame


# ------------------------------------------------------------------ 7: deep JSON


async def test_a_deeply_nested_twilio_frame_is_skipped_and_the_call_goes_on(gw: GatewayThread) -> None:
    async with connect(twilio_url(gw)) as ws:
        await ws.send(twilio_start({"tenant": "nested"}))
        await asyncio.sleep(0.3)
        depth = 10_000
        await ws.send('{"event": "media", "media": ' + "[" * depth + "]" * depth + "}")
        await ws.send(json.dumps({"event": "dtmf", "streamSid": "MZprobe", "dtmf": {"digit": "1"}}))
        await asyncio.sleep(0.5)
        await ws.send(json.dumps({"event": "stop", "streamSid": "MZprobe", "stop": {"callSid": "CAprobe"}}))
        close = await closed(ws)
        assert close.rcvd is not None and close.rcvd.reason == "caller-hangup"


async def test_deep_json_on_the_gateway_protocol_is_a_bad_json_error(gw: GatewayThread) -> None:
    async with connect(gw.url) as ws:
        await start(ws)
        await ws.send('{"type": "text", "text": "hello", "x": ' + "[" * 200 + "]" * 200 + "}")
        assert (await next_of(ws, "error"))["code"] == "protocol-bad-json"


# ------------------------------------------------------------------ 8: PII outside the text


@pytest.mark.parametrize("fields", [{"session_id": "13812345678"}, {"tenant": "4111111111111111"},
                                    {"session_id": "card-4111-1111-1111-1111"}])
async def test_identifiers_that_carry_pii_are_refused(gw: GatewayThread, fields: dict[str, str]) -> None:
    async with connect(gw.url) as ws:
        refusal = await start(ws, **fields)
        assert (refusal["type"], refusal.get("code")) == ("error", "protocol-bad-field"), refusal
        assert "4111" not in refusal["message"] and "13812345678" not in refusal["message"]
    assert stored(gw, "SELECT id FROM sessions WHERE id LIKE '%1381234%' OR tenant LIKE '%4111%'") == []


@pytest.mark.parametrize("said", [
    "卡号是四一一一一一一一一一一一一一一一",
    "卡号是4一1一 幺幺幺幺 一一一一 一一一一",
    "my card is four one one one one one one one one one one one one one one one",
])
async def test_card_numbers_in_words_are_masked_in_the_store(gw: GatewayThread, said: str) -> None:
    async with connect(gw.url) as ws:
        session_id = (await start(ws))["session_id"]
        await ws.send(json.dumps({"type": "text", "text": said}))
        await next_of(ws, "turn.timing", wait=60)
    texts = [t for (t,) in stored(gw, "SELECT text FROM turns WHERE session_id = ? AND speaker = 'caller'",
                                  session_id)]
    assert len(texts) == 1 and "[CARD]" in texts[0], texts
    assert "一一一一" not in texts[0] and "one one one" not in texts[0]


async def test_runaway_repetition_is_cut_flagged_and_the_card_masked(gw: GatewayThread) -> None:
    said = "my card is 4111 1111 1111 1111" + " 4" * 300
    async with connect(gw.url) as ws:
        session_id = (await start(ws))["session_id"]
        await ws.send(json.dumps({"type": "text", "text": said}))
        final = await next_of(ws, "transcript.final")
        await next_of(ws, "turn.timing", wait=60)
    assert final["text"].count("4") < 30 and "[repetition cut]" in final["text"]
    (text,), = stored(gw, "SELECT text FROM turns WHERE session_id = ? AND speaker = 'caller'", session_id)
    assert "4111" not in text and "[repetition cut]" in text


# ------------------------------------------------------------------ 9: the smaller ones


async def test_resuming_another_tenants_live_session_is_tenant_forbidden(secured: GatewayThread) -> None:
    async with connect(secured.url, **bearer("acme")) as owner:  # type: ignore[arg-type]
        session_id = (await start(owner))["session_id"]
        async with connect(secured.url, **bearer("globex")) as intruder:  # type: ignore[arg-type]
            refusal = await start(intruder, session_id=session_id)
            assert (refusal["type"], refusal["code"]) == ("error", "tenant-forbidden")
        async with connect(secured.url, **bearer("acme")) as twin:  # type: ignore[arg-type]
            refusal = await start(twin, session_id=session_id)  # its own tenant may know it is live
            assert (refusal["type"], refusal["code"]) == ("error", "session-in-use")


@pytest.mark.parametrize("fields", [
    {"v": 1.0}, {"v": True}, {"language": None}, {"audio": {}}, {"audio": None},
    {"tenant": "../../x"}, {"session_id": "../../x"}, {"tenant": ".."}, {"tenant": None},
])
async def test_sloppy_session_start_fields_are_refused(gw: GatewayThread, fields: dict[str, object]) -> None:
    async with connect(gw.url) as ws:
        refusal = await start(ws, **fields)
        assert refusal["type"] == "error", refusal
        assert refusal["code"] in ("protocol-bad-field", "protocol-version"), refusal


@pytest.mark.parametrize("message", [
    {"type": "played", "turn_id": -1}, {"type": "played", "turn_id": 10**30},
    {"type": "played", "turn_id": 1e30}, {"type": "video.frame", "t_ms": 10**15, "data": "AAAA"},
])
async def test_numbers_out_of_range_are_refused(gw: GatewayThread, message: dict[str, object]) -> None:
    async with connect(gw.url) as ws:
        await start(ws)
        await ws.send(json.dumps(message))
        assert (await next_of(ws, "error"))["code"] == "protocol-bad-field"


def test_protocol_doc_agrees_with_the_code_on_oversized_messages() -> None:
    doc = (PROJECT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert "larger than `server.max_message_bytes` (1 MiB) closes the connection" not in doc
    assert "twice" in doc and "1009" in doc
