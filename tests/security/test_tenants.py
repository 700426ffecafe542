"""Per-tenant settings (tenants.file): loading and checks, and what they change in a real gateway."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from gateway.errors import ConfigError
from gateway.protocol import ws_v1
from gateway.security.tenants import CHANNELS, LANGUAGES, TenantSettings, TenantsSettings
from tests.conftest import GatewayThread, make_settings

TENANTS = """
[small]
max_sessions = 1

[shanghai-shop]
language = "zh"

[phone-only]
channels = ["phone"]
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tenants.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_file_loads_into_each_tenants_settings(tmp_path: Path) -> None:
    loaded = TenantsSettings(write(tmp_path, TENANTS)).load()
    assert loaded == {"small": TenantSettings(max_sessions=1), "shanghai-shop": TenantSettings(language="zh"),
                      "phone-only": TenantSettings(channels=("phone",))}
    assert TenantsSettings().load() == {}


@pytest.mark.parametrize(("text", "message"), [
    ("[acme]\nmax_session = 3\n", "unknown settings ['max_session']"),
    ("[acme]\nmax_sessions = -1\n", "max_sessions must be"),
    ("[acme]\nmax_sessions = true\n", "max_sessions must be"),
    ("[acme]\nlanguage = 'klingon'\n", "language must be one of"),
    ("[acme]\nchannels = ['fax']\n", "channels must be a list"),
    ("[acme]\nchannels = 'phone'\n", "channels must be a list"),
    ('["a b"]\nlanguage = "en"\n', "not a tenant name"),
    ('["acme\\n"]\nlanguage = "en"\n', "not a tenant name"),  # a trailing newline is not a name
    ("acme = 3\n", "must be a table"),
    ("[acme\n", "tenants.file"),
])
def test_bad_files_stop_the_start_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TenantsSettings(write(tmp_path, text)).validate()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        TenantsSettings(str(tmp_path / "nope.toml")).validate()


def test_the_values_match_what_the_protocol_accepts() -> None:
    assert set(LANGUAGES) == set(ws_v1.LANGUAGES) - {"auto"}
    assert set(CHANNELS) == set(ws_v1.CHANNELS)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    tmp = tmp_path_factory.mktemp("tenants")
    base = make_settings(tmp)
    settings = dataclasses.replace(base, tenants=TenantsSettings(write(tmp, TENANTS)))
    gw = GatewayThread(settings, preload=False).start()
    yield gw
    gw.stop()


async def start(url: str, tenant: str, channel: str = "websocket") -> dict:
    ws = await connect(url)
    await ws.send(json.dumps({"type": "session.start", "tenant": tenant, "channel": channel,
                              "audio": {"sample_rate": 16000}}))
    first = json.loads(await ws.recv())
    first["_ws"] = ws
    return first


@pytest.mark.e2e
async def test_a_tenants_own_cap_language_and_channels_apply(gateway: GatewayThread) -> None:
    one = await start(gateway.url, "small")
    assert one["type"] == "session.started"
    two = await start(gateway.url, "small")
    assert (two["type"], two["code"]) == ("error", "tenant-busy")  # its own cap: 1
    others = [await start(gateway.url, "acme") for _ in range(3)]  # no table: the default (no cap)
    assert [o["type"] for o in others] == ["session.started"] * 3
    zh = await start(gateway.url, "shanghai-shop")
    assert (zh["type"], zh["language"]) == ("session.started", "zh")  # "auto" means its language
    plain = await start(gateway.url, "acme")
    assert plain["language"] == "auto"
    phone = await start(gateway.url, "phone-only", channel="websocket")
    assert (phone["type"], phone["code"]) == ("error", "channel-forbidden")
    kiosk_ok = await start(gateway.url, "shanghai-shop", channel="kiosk")
    assert kiosk_ok["type"] == "session.started"
    for session in [one, *others, zh, plain, kiosk_ok]:
        await session["_ws"].send(json.dumps({"type": "session.end"}))
        await next_of(session["_ws"], "session.ended")
    for session in [one, two, *others, zh, plain, phone, kiosk_ok]:
        await session["_ws"].close()
