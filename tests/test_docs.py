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
    """Every `code="..."` the gateway can raise appears in docs/ (most in protocol.md, which
    points to the pages holding the rest)."""
    root = Path(__file__).resolve().parents[1]
    text = "".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    sources = [p for folder in ("gateway", "modalities", "models") for p in (root / folder).rglob("*.py")]
    codes: dict[str, str] = {}
    for path in sources:
        for code in re.findall(r'code="([a-z][a-z0-9-]+)"', path.read_text(encoding="utf-8")):
            codes.setdefault(code, str(path.relative_to(root)))
    assert len(codes) > 50, "too few codes found: the pattern is stale"
    missing = sorted(f"{c} ({p})" for c, p in codes.items() if f"`{c}`" not in text)
    assert not missing, missing
