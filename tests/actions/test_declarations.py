"""Action files are checked at start: a bad one stops `gateway serve` with one line naming file and entry."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.core.actions import load_catalog
from gateway.errors import ConfigError
from tests.conftest import PROJECT, SAMPLES

SHOP = (SAMPLES / "actions" / "shop.yaml").read_text(encoding="utf-8")

BROKEN = {
    "unknown-field": (SHOP.replace("    changes: false\n", "    changes: false\n    cache: forever\n", 1),
                      "'actions.order_status'", "unknown field 'cache'"),
    "no-source": (SHOP.replace('''      reason:
        type: text
        from: {caller: true}''', '''      reason:
        type: text'''), "'actions.return_request.parameters.reason'", "no source"),
    "missing-field": (SHOP.replace("tracking number {tracking},", "tracking number {tracking_no},"),
                      "'actions.order_status'",
                      "'tracking_no', which is neither a parameter nor a result field"),
    "not-http": (SHOP.replace("base_url: http://127.0.0.1:8091/api       # the shop's",
                              "base_url: ftp://orders.example.com   # the shop's"),
                 "'integrations.shop'", "must be an http:// or https:// URL"),
}


def test_the_shipped_sample_loads() -> None:
    catalog = load_catalog(SAMPLES / "actions")
    assert [a.name for a in catalog.actions] == ["order_status", "return_request", "change_address",
                                                 "promotion_lookup"]
    ret, status = catalog.by_name("return_request"), catalog.by_name("order_status")
    assert ret is not None and status is not None and ret.changes and not status.changes
    tool = status.tool()  # the same declaration, as an OpenAI-style tool
    assert tool["function"]["parameters"]["required"] == ["order_number"]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_names_the_file_and_the_entry(tmp_path: Path, case: str) -> None:
    text, entry, problem = BROKEN[case]
    assert text != SHOP  # the edit applied
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_catalog(tmp_path)
    message = str(raised.value)
    assert "\n" not in message and str(tmp_path / "shop.yaml") in message
    assert entry in message and problem in message, message


def test_auth_comes_from_the_environment(tmp_path: Path) -> None:
    text = SHOP.replace("# auth: {bearer_env: SHOP_API_TOKEN}", "auth: {bearer_env: SHOP_API_TOKEN}")
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="SHOP_API_TOKEN is not set"):
        load_catalog(tmp_path, environ={})
    catalog = load_catalog(tmp_path, environ={"SHOP_API_TOKEN": "s3cret"})
    assert catalog.integrations["shop"].headers == {"Authorization": "Bearer s3cret"}
    assert "s3cret" not in repr(catalog)  # a logged catalog never shows the token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("case", ["unknown-field", "not-http"])
def test_gateway_serve_refuses_to_start(tmp_path: Path, case: str) -> None:
    text, entry, problem = BROKEN[case]
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "GATEWAY_CORE__ACTIONS_PATH": str(tmp_path),
           "GATEWAY_SERVER__PORT": str(free_port())}  # were it to start, it must not take a used port
    env.pop("GATEWAY_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "serve"], env=env, cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(tmp_path / "shop.yaml") in lines[0] and entry in lines[0] and problem in lines[0]
