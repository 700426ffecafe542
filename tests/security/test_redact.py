from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from gateway.security import (
    SecuritySettings,
    caller_hash,
    hash_api_key,
    install_redaction,
    issue_jwt,
    new_api_key,
)

JWT_SECRET = "jwt-secret-" + "k" * 30
BRIDGE_SECRET = "bridge-secret-xyz-123"
TWILIO = "twilio-auth-token-abcdef"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    settings = SecuritySettings(jwt_secret=JWT_SECRET, bridge_secret=BRIDGE_SECRET, twilio_auth_token=TWILIO)
    stream = io.StringIO()
    root = logging.getLogger("redaction-test")
    root.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    install_redaction(settings.secrets(), root)
    try:
        yield root, stream
    finally:
        root.removeHandler(handler)


def test_secrets_never_in_log_output(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    child = logger.getChild("ws")  # records from children pass through the parent's handlers
    key = new_api_key()
    token = issue_jwt(JWT_SECRET, tenant="t", role="agent", subject="bob", audience="cc-gateway",
                      now=1_800_000_000)
    child.info("upgrade GET /ws?access_token=%s&tenant=a", key)
    child.warning("headers %s", {"Authorization": f"Bearer {token}", "X-API-Key": key})
    child.error("bridge said secret=%s twilio=%s", BRIDGE_SECRET, TWILIO)
    child.debug("config %r", {"jwt_secret": JWT_SECRET, "password": "hunter22"})
    child.info("token alone: %s", token)
    try:
        raise ValueError(f"bad key {key} with {JWT_SECRET}")
    except ValueError:
        child.exception("failed")
    out = stream.getvalue()
    for secret in (key, token, JWT_SECRET, BRIDGE_SECRET, TWILIO, "hunter22", token.split(".")[2]):
        assert secret not in out, secret
    assert out.count("[REDACTED]") >= 8
    assert "tenant=a" in out and "failed" in out and "ValueError" in out


def test_plain_text_is_untouched(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("session %s turn %d: reply latency %.0f ms", "ab12", 3, 512.0)
    assert stream.getvalue().strip() == "redaction-test INFO session ab12 turn 3: reply latency 512 ms"


def test_caller_hash_is_stable_and_keyed() -> None:
    assert caller_hash("+1 (415) 867-5310") == caller_hash("+14158675310")
    assert caller_hash("+14158675310") != caller_hash("+14158675311")
    assert caller_hash("+14158675310", "pepper") != caller_hash("+14158675310")
    assert "4158675310" not in caller_hash("+14158675310")
    assert len(hash_api_key("x")) == 64
