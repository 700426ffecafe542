"""Keeping secrets and caller numbers out of logs and out of the store's lookup keys.

`RedactingFilter` goes on log *handlers* (a filter on a logger does not see records propagated
from its children): it formats each record, removes credentials by pattern and every configured
secret verbatim, and replaces the message so no formatter can bring the original back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable

MASK = "[REDACTED]"
_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),  # Authorization header values
    re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # any JWT
    re.compile(r"\bgk_[A-Za-z0-9_-]{16,}"),  # our API keys
    # key=value / "key": "value" pairs whose name says secret (query strings, JSON, reprs)
    re.compile(r"(?i)([\"']?(?:access_token|api[_-]?key|token|secret|password|passwd|auth_token|"
               r"x-api-key|x-twilio-signature|authorization)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,;}]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_masked, text)
    return text


def _masked(match: re.Match[str]) -> str:
    # Patterns with a group keep it (the "token=" part) so the log still says what was hidden.
    return (match.group(1) or "") + MASK if match.re.groups else MASK


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
            record.exc_info = None  # the redacted text is what gets printed
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> RedactingFilter:
    """Adds one filter to every handler of `logger` (default: root); call after logging is set up."""
    target = logger or logging.getLogger()
    flt = RedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt


def caller_hash(number: str, pepper: str = "") -> str:
    """A stable, non-reversible key for a caller's number (digits and leading + only), so the store
    can find a caller's data for deletion without holding the number."""
    normalized = re.sub(r"[^0-9+]", "", number)
    return hmac.new(pepper.encode() or b"cc-gateway", normalized.encode(), hashlib.sha256).hexdigest()
