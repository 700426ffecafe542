"""Identifiers a peer names (session ids, tenants): strict patterns, and never personal data.

An identifier ends up in log lines, store keys, metrics labels and folder names, where the PII
masking of turn text never looks; so one that the PII rules would mask (a phone or card number,
also spelled with separators: "card-4111-1111-1111-1111") is refused, as is anything outside
the pattern ("../../x"). Refusal messages never repeat the value.
"""

from __future__ import annotations

import re
import uuid

from gateway.core.policies.pii import find_pii
from gateway.errors import ProtocolError
from gateway.security.settings import TENANT_NAME

# Starts with a letter or digit: no "..", no ".hidden", no "-flag"; use with fullmatch.
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SEPARATORS = re.compile(r"[-_.: ]")


def carries_pii(value: str) -> bool:
    """True when the PII rules would mask something in the value, with or without its separators."""
    return bool(find_pii(value) or find_pii(_SEPARATORS.sub("", value)))


def check_session_id(value: str, *, field: str = "session_id") -> str:
    if SESSION_ID.fullmatch(value) is None:
        raise ProtocolError(f"{field} must be 1..64 letters, digits, '_', '.', ':' or '-', starting with "
                            "a letter or digit", code="protocol-bad-field")
    if carries_pii(value):
        raise ProtocolError(f"{field} looks like a phone, card or ID number; use an opaque id",
                            code="protocol-bad-field")
    return value


def check_tenant_name(value: str, *, field: str = "tenant") -> str:
    if TENANT_NAME.fullmatch(value) is None or not value[0].isalnum():
        raise ProtocolError(f"{field} must be 1..64 letters, digits, '_', '.' or '-', starting with a "
                            "letter or digit", code="protocol-bad-field")
    if carries_pii(value):
        raise ProtocolError(f"{field} looks like a phone, card or ID number", code="protocol-bad-field")
    return value


def new_session_id() -> str:
    """A random id that the PII rules leave alone (a uuid4 hex can hold a run like 13812345678)."""
    while True:
        candidate = uuid.uuid4().hex
        if not carries_pii(candidate):
            return candidate
