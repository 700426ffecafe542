"""GET /admin/report: the batch-written page of the caller's own tenant, behind an agent or
admin credential."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from gateway.analytics.page import ROUTE, report_file, report_routes
from gateway.config import Settings, load_settings
from gateway.security.tokens import hash_api_key
from tests.conftest import GatewayThread, make_settings

KEYS = {"agent-acme": "acme:agent", "agent-globex": "globex:agent", "caller-acme": "acme:caller",
        "admin": "*:admin"}


def secured(tmp_path: Path) -> Settings:
    base = load_settings(environ={})
    keys = tuple(f"{hash_api_key(key)}:{who}:{key}" for key, who in KEYS.items())
    return dataclasses.replace(
        base, store=dataclasses.replace(base.store, path=str(tmp_path / "gateway.sqlite3")),
        security=dataclasses.replace(base.security, mode="required", api_keys=keys))


async def get(settings: Settings, key: str | None, query: str = "") -> tuple[int, bytes]:
    headers = Headers([("X-API-Key", key)] if key else [])
    response = await report_routes(settings)[ROUTE](Request(ROUTE + query, headers))
    assert response is not None
    return response.status_code, bytes(response.body)


async def test_each_principal_gets_its_own_tenants_page(tmp_path: Path) -> None:
    settings = secured(tmp_path)
    for tenant in (None, "acme"):
        path = report_file(settings.store.path, tenant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html>report of {tenant or 'every tenant'}</html>", encoding="utf-8")
    assert await get(settings, "agent-acme") == (200, b"<html>report of acme</html>")
    assert await get(settings, "admin") == (200, b"<html>report of every tenant</html>")
    assert await get(settings, "admin", "?tenant=acme") == (200, b"<html>report of acme</html>")
    status, body = await get(settings, "agent-acme", "?tenant=globex")
    assert (status, json.loads(body)["code"]) == (403, "tenant-forbidden")
    status, body = await get(settings, "caller-acme")
    assert (status, json.loads(body)["code"]) == (403, "role-forbidden")
    status, body = await get(settings, None)
    assert (status, json.loads(body)["code"]) == (401, "auth-missing")
    status, body = await get(settings, "agent-globex")  # no page written for globex yet
    assert (status, json.loads(body)["code"]) == (404, "report-missing")
    status, body = await get(settings, "admin", "?tenant=../acme")
    assert (status, json.loads(body)["code"]) == (403, "tenant-forbidden")


@pytest.mark.e2e
def test_the_gateway_serves_the_page(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # security off: every connection is an admin
    path = report_file(settings.store.path, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html>the report</html>", encoding="utf-8")
    gw = GatewayThread(settings, preload=False).start()
    try:
        with urllib.request.urlopen(gw.http + ROUTE, timeout=30) as response:
            assert response.status == 200 and response.read() == b"<html>the report</html>"
            assert "script-src" not in response.headers["Content-Security-Policy"]
    finally:
        gw.stop()
