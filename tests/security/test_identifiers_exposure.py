"""Identifier rules (strict, never PII) and what `gateway serve` refuses to start with."""

from __future__ import annotations

import pytest

from gateway.errors import ProtocolError
from gateway.security import SecuritySettings, bridge_credential_configured
from gateway.security.exposure import is_loopback, refusal
from gateway.security.identifiers import carries_pii, check_session_id, check_tenant_name, new_session_id


@pytest.mark.parametrize("value", ["../../x", "..", ".hidden", "-flag", "", "a" * 65, "a/b", "a b",
                                   "13812345678", "4111111111111111", "card-4111-1111-1111-1111",
                                   "id.11010519491231002X", "x\ud800"])
def test_bad_session_ids(value: str) -> None:
    with pytest.raises(ProtocolError) as err:
        check_session_id(value)
    assert err.value.code == "protocol-bad-field" and (len(value) < 4 or value not in err.value.message)


@pytest.mark.parametrize("value", ["../../x", "..", "4111111111111111", "acme/..", "_x", "ten ant"])
def test_bad_tenants(value: str) -> None:
    with pytest.raises(ProtocolError):
        check_tenant_name(value)


@pytest.mark.parametrize("value", ["acme", "tenant-a", "shop.cn", "a" * 64, "t2024"])
def test_good_tenants(value: str) -> None:
    assert check_tenant_name(value) == value


@pytest.mark.parametrize("value", ["3f2a9c0e5b7d4e1f8a6c2b0d9e7f5a3c", "call-0001", "order:MLH-123456", "s1"])
def test_good_session_ids(value: str) -> None:
    assert check_session_id(value) == value


def test_generated_session_ids_never_carry_pii() -> None:
    ids = [new_session_id() for _ in range(3000)]  # ~1% of raw uuid4 hex would (a 15-digit run)
    assert not any(carries_pii(i) for i in ids) and all(check_session_id(i) for i in ids)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host) and refusal(SecuritySettings(), host, insecure=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "gw.example.com"])
def test_off_mode_on_a_network_needs_insecure(host: str) -> None:
    why = refusal(SecuritySettings(), host, insecure=False)
    assert why is not None and "--insecure" in why and "\n" not in why
    assert refusal(SecuritySettings(), host, insecure=True) is None


def test_required_mode_needs_a_bridge_credential() -> None:
    bare = SecuritySettings(mode="required", jwt_secret="j" * 40)
    assert not bridge_credential_configured(bare)
    assert "bridge_secret" in (refusal(bare, "0.0.0.0", insecure=False) or "")
    for enough in (SecuritySettings(mode="required", jwt_secret="j" * 40, bridge_secret="b" * 20),
                   SecuritySettings(mode="required", jwt_secret="j" * 40, bridge_sources=("10.0.0.0/8",))):
        assert bridge_credential_configured(enough) and refusal(enough, "0.0.0.0", insecure=False) is None
    twilio_only = SecuritySettings(mode="required", jwt_secret="j" * 40, twilio_auth_token="t" * 32)
    assert bridge_credential_configured(twilio_only)
    assert not bridge_credential_configured(twilio_only, twilio=False)  # chan_websocket has no signature
