from __future__ import annotations

import pytest

from gateway.security import AuthError, SecuritySettings, check_bridge, check_twilio, twilio_signature

# The worked example in Twilio's request-validation documentation (auth token "12345").
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234",
              "From": "+14158675310", "To": "+18005551212"}
DOC_SIGNATURE = "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_twilio_documented_vector() -> None:
    assert twilio_signature("12345", DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    check_twilio(DOC_SIGNATURE, DOC_URL, DOC_PARAMS, "12345")


def test_twilio_port_variants_accepted() -> None:
    check_twilio(DOC_SIGNATURE, "https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_PARAMS, "12345")
    wss = "wss://gw.example.com/twilio?tenant=a"
    sig = twilio_signature("tok", "wss://gw.example.com:443/twilio?tenant=a", {})
    check_twilio(sig, wss, {}, "tok")


@pytest.mark.parametrize("signature, url, params, code", [
    (None, DOC_URL, DOC_PARAMS, "auth-missing"),
    (DOC_SIGNATURE, DOC_URL, {**DOC_PARAMS, "Digits": "9999"}, "auth-invalid"),
    (DOC_SIGNATURE, DOC_URL.replace("foo=1", "foo=2"), DOC_PARAMS, "auth-invalid"),
    ("GvWf1cFY/Q7PnoempGyD5oXAezd=", DOC_URL, DOC_PARAMS, "auth-invalid"),
])
def test_twilio_rejections(signature: str | None, url: str, params: dict[str, str], code: str) -> None:
    with pytest.raises(AuthError) as err:
        check_twilio(signature, url, params, "12345")
    assert err.value.code == code


def test_twilio_wrong_token() -> None:
    with pytest.raises(AuthError):
        check_twilio(DOC_SIGNATURE, DOC_URL, DOC_PARAMS, "54321")


BRIDGE = SecuritySettings(bridge_secret="bridge-secret-0123456789", bridge_sources=("10.0.0.0/8", "::1/128"))


def test_bridge_allowed() -> None:
    check_bridge("10.1.2.3", "bridge-secret-0123456789", BRIDGE)
    check_bridge("::1", "bridge-secret-0123456789", BRIDGE)


@pytest.mark.parametrize("address, secret, code", [
    ("192.168.1.5", "bridge-secret-0123456789", "bridge-source-forbidden"),
    (None, "bridge-secret-0123456789", "bridge-source-forbidden"),
    ("not an ip", "bridge-secret-0123456789", "bridge-source-forbidden"),
    ("10.1.2.3", None, "auth-missing"),
    ("10.1.2.3", "bridge-secret-0123456789x", "auth-invalid"),
])
def test_bridge_rejections(address: str | None, secret: str | None, code: str) -> None:
    with pytest.raises(AuthError) as err:
        check_bridge(address, secret, BRIDGE)
    assert err.value.code == code


def test_bridge_without_secret_checks_source_only() -> None:
    check_bridge("127.0.0.1", None, SecuritySettings())
    with pytest.raises(AuthError):
        check_bridge("8.8.8.8", None, SecuritySettings())
