"""The documentation names every setting and every error code the code can produce."""

import dataclasses
import re
import typing
from pathlib import Path

from gateway.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for section in dataclasses.fields(Settings):
        cls = typing.get_type_hints(Settings)[section.name]
        for f in dataclasses.fields(cls):
            assert f"GATEWAY_{section.name.upper()}__{f.name.upper()}" in text, f"{section.name}.{f.name}"


def test_protocol_error_codes_are_documented():
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    sources = [root / "gateway/protocol/ws_v1.py", root / "gateway/session.py", root / "gateway/app.py",
               root / "gateway/transports/websocket.py", root / "gateway/transports/agent.py"]
    codes = set()
    for path in sources:
        codes |= set(re.findall(r'code="([a-z][a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert codes, "no codes found: the pattern is stale"
    missing = sorted(c for c in codes if f"`{c}`" not in text)
    assert not missing, missing
