"""What every JSON path of the gateway shares at its edge: bounded parsing and encodable output.

`loads_bounded` refuses nesting deeper than MAX_DEPTH before the parser sees it (a 10,000-level
frame would otherwise end in RecursionError inside json). `dumps_wire` always returns text that
encodes as UTF-8: a caller may send a lone UTF-16 surrogate as the JSON escape "\\ud800", which
json.loads accepts and every later encode (WebSocket send, SQLite) refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # no message of ours nests beyond 4; a few more for clients' extras
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """Nesting beyond the limit: a bad frame, like any other malformed JSON."""


def check_depth(text: str | bytes, max_depth: int = MAX_DEPTH) -> None:
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    opens = text.count("[") + text.count("{")
    if opens <= max_depth:  # the common case: nothing to scan
        return
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub('""', text)):  # brackets inside strings do not nest
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def loads_bounded(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads with a depth limit; raises ValueError (JsonTooDeep, JSONDecodeError) on bad input."""
    check_depth(text, max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # belt and braces: the scan above should make this unreachable
        raise JsonTooDeep("JSON nested too deeply") from None


def clean_text(text: str) -> str:
    """The text with lone surrogates replaced by U+FFFD (the only str that cannot be UTF-8)."""
    return _SURROGATE.sub(REPLACEMENT, text)


def dumps_wire(payload: Any) -> str:
    """Compact JSON that always encodes as UTF-8, whatever strings the payload carries."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = clean_text(text)
    return text
