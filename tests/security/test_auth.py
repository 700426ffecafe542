from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest

from gateway.errors import ConfigError
from gateway.security import (
    AuthError,
    Principal,
    SecuritySettings,
    authenticate,
    authorize_start,
    can_read_transcript,
    check_read_transcript,
    check_tenant,
    hash_api_key,
    http_status,
    issue_jwt,
    new_api_key,
    query_of,
    visible,
)
from gateway.transports.websocket import own_origins

SECRET = "s" * 40
NOW = 1_800_000_000.0
KEY_A = new_api_key()
KEY_B_AGENT = new_api_key()


@pytest.fixture
def settings() -> SecuritySettings:
    s = SecuritySettings(
        mode="required", jwt_secret=SECRET, allowed_origins=("https://app.example.com",),
        api_keys=(f"{hash_api_key(KEY_A)}:tenant-a:caller:kiosk-1",
                  f"{hash_api_key(KEY_B_AGENT)}:tenant-b:agent:alice"))
    s.validate()
    return s


def token(tenant: str = "tenant-a", role: str = "caller", now: float = NOW, **kw: object) -> str:
    return issue_jwt(SECRET, tenant=tenant, role=role, subject="u1", audience="cc-gateway", now=now,
                     **kw)  # type: ignore[arg-type]


def bearer(credential: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", **extra}


def code_of(headers: dict[str, str], settings: SecuritySettings, query: dict[str, str] | None = None,
            now: float = NOW) -> str:
    with pytest.raises(AuthError) as err:
        authenticate(headers, query or {}, settings, now=now)
    return err.value.code


def forge(claims: dict[str, object], alg: str = "HS256", secret: str = SECRET) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    signing = f"{enc({'alg': alg, 'typ': 'JWT'})}.{enc(claims)}"
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def test_valid_jwt_gives_principal(settings: SecuritySettings) -> None:
    p = authenticate(bearer(token()), {}, settings, now=NOW + 10)
    assert p == Principal("u1", "tenant-a", "caller", "jwt")


def test_api_key_header_and_query(settings: SecuritySettings) -> None:
    assert authenticate({"X-API-Key": KEY_A}, {}, settings, now=NOW).tenant == "tenant-a"
    p = authenticate({}, {"access_token": KEY_B_AGENT}, settings, now=NOW)
    assert (p.subject, p.tenant, p.role, p.method) == ("alice", "tenant-b", "agent", "api-key")


def test_missing_credentials(settings: SecuritySettings) -> None:
    assert code_of({}, settings) == "auth-missing"


def test_unknown_api_key(settings: SecuritySettings) -> None:
    assert code_of({"X-API-Key": new_api_key()}, settings) == "auth-invalid"


def test_expired_token(settings: SecuritySettings) -> None:
    assert code_of(bearer(token(now=NOW - 7200)), settings) == "auth-expired"


def test_token_within_leeway_still_valid(settings: SecuritySettings) -> None:
    assert authenticate(bearer(token(now=NOW - 3600)), {}, settings, now=NOW + 20).role == "caller"


def test_not_yet_valid_token(settings: SecuritySettings) -> None:
    assert code_of(bearer(token(now=NOW + 600)), settings) == "auth-invalid"


def test_wrong_secret_is_forged(settings: SecuritySettings) -> None:
    other = issue_jwt("x" * 40, tenant="tenant-a", role="admin", subject="mallory",
                      audience="cc-gateway", now=NOW)
    assert code_of(bearer(other), settings) == "auth-invalid"


def test_tampered_claims_fail(settings: SecuritySettings) -> None:
    head, body, sig = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["tenant"] = "tenant-b"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert code_of(bearer(f"{head}.{body}.{sig}"), settings) == "auth-invalid"


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", "hs256"])
def test_other_algorithms_refused(settings: SecuritySettings, alg: str) -> None:
    claims = {"tenant": "tenant-a", "role": "admin", "aud": "cc-gateway", "exp": NOW + 60}
    forged = forge(claims, alg=alg)
    if alg == "none":
        forged = forged.rsplit(".", 1)[0] + "."
    assert code_of(bearer(forged), settings) == "auth-invalid"


@pytest.mark.parametrize("claims", [
    {"tenant": "tenant-a", "role": "caller", "aud": "cc-gateway"},  # no exp
    {"tenant": "tenant-a", "role": "caller", "aud": "other", "exp": NOW + 60},
    {"role": "caller", "aud": "cc-gateway", "exp": NOW + 60},  # no tenant
    {"tenant": "tenant-a", "role": "root", "aud": "cc-gateway", "exp": NOW + 60},
    {"tenant": "*", "role": "agent", "aud": "cc-gateway", "exp": NOW + 60},
    {"tenant": "tenant-a", "role": "caller", "aud": "cc-gateway", "exp": True},
    {"tenant": "tenant-a", "role": "caller", "aud": "cc-gateway", "exp": NOW + 90 * 86400},
])
def test_bad_claims_refused(settings: SecuritySettings, claims: dict[str, object]) -> None:
    assert code_of(bearer(forge(claims)), settings) in ("auth-invalid", "tenant-forbidden")


@pytest.mark.parametrize("tenant", ["", "tenant a", "über", "x" * 65, "tenant-a\n", "../tenant-b",
                                    "tenant-a/../b", "tenant-a:admin", "**"])
def test_a_tenant_claim_that_is_no_tenant_name_is_refused(settings: SecuritySettings, tenant: str) -> None:
    """The rule of API-key tenants and tenants.file: a token (signed, in date) naming anything else
    is a bad credential (401 auth-invalid), never a session of an odd tenant."""
    with pytest.raises(AuthError) as err:
        authenticate(bearer(token(tenant=tenant)), {}, settings, now=NOW)
    assert err.value.code == "auth-invalid" and "not a tenant name" in str(err.value)
    assert http_status(err.value) == 401


@pytest.mark.parametrize(("tenant", "role"), [("Acme_1.eu-west", "caller"), ("x" * 64, "agent"),
                                              ("*", "admin")])
def test_tenant_claims_that_follow_the_rule_are_accepted(settings: SecuritySettings, tenant: str,
                                                         role: str) -> None:
    assert authenticate(bearer(token(tenant=tenant, role=role)), {}, settings, now=NOW).tenant == tenant


@pytest.mark.parametrize("garbage", ["eyJ.eyJ.", "eyJhbGciOiJIUzI1NiJ9.!!!.abc", "eyJ" + "a" * 5000 + ".b.c",
                                     "a.b", "Basic abc"])
def test_garbage_credentials(settings: SecuritySettings, garbage: str) -> None:
    assert code_of(bearer(garbage), settings) == "auth-invalid"


def test_non_bearer_scheme(settings: SecuritySettings) -> None:
    assert code_of({"Authorization": "Basic dXNlcjpwYXNz"}, settings) == "auth-invalid"


def test_wrong_origin(settings: SecuritySettings) -> None:
    assert code_of(bearer(token(), Origin="https://evil.example.net"), settings) == "origin-forbidden"
    ok = authenticate(bearer(token(), Origin="https://app.example.com"), {}, settings, now=NOW)
    assert ok.tenant == "tenant-a"


def test_origin_checked_even_when_auth_off() -> None:
    off = SecuritySettings(allowed_origins=("https://app.example.com",))
    assert code_of({"Origin": "https://evil.example.net"}, off) == "origin-forbidden"
    assert authenticate({}, {}, off, now=NOW).role == "admin"


def test_status_codes() -> None:
    assert http_status(AuthError("x", code="auth-missing")) == 401
    assert http_status(AuthError("x", code="tenant-forbidden")) == 403


def test_tenant_a_cannot_read_tenant_b(settings: SecuritySettings) -> None:
    agent_a = authenticate(bearer(token(role="agent")), {}, settings, now=NOW)
    assert can_read_transcript(agent_a, "tenant-a")
    assert not can_read_transcript(agent_a, "tenant-b")
    with pytest.raises(AuthError) as err:
        check_read_transcript(agent_a, "tenant-b")
    assert err.value.code == "tenant-forbidden"
    caller_a = authenticate(bearer(token()), {}, settings, now=NOW)
    with pytest.raises(AuthError) as err:
        check_read_transcript(caller_a, "tenant-a")
    assert err.value.code == "role-forbidden"


def test_start_tenancy(settings: SecuritySettings) -> None:
    caller_a = authenticate(bearer(token()), {}, settings, now=NOW)
    assert authorize_start(caller_a, None, "caller") == "tenant-a"
    assert authorize_start(caller_a, "default", "caller") == "tenant-a"
    for tenant, role, code in (("tenant-b", "caller", "tenant-forbidden"),
                               ("tenant-a", "agent", "role-forbidden")):
        with pytest.raises(AuthError) as err:
            authorize_start(caller_a, tenant, role)
        assert err.value.code == code
    with pytest.raises(AuthError):
        check_tenant(caller_a, "tenant-b")


def test_agents_see_only_their_tenant_queue(settings: SecuritySettings) -> None:
    @dataclass(frozen=True)
    class Ticket:
        session_id: str
        tenant: str

    tickets = [Ticket("s1", "tenant-a"), Ticket("s2", "tenant-b"), Ticket("s3", "tenant-a")]
    agent_b = authenticate({"X-API-Key": KEY_B_AGENT}, {}, settings, now=NOW)
    assert [t.session_id for t in visible(agent_b, tickets, lambda t: t.tenant)] == ["s2"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"mode": "on"}, "security.mode"),
    ({"mode": "required"}, "needs security.api_keys"),
    ({"jwt_secret": "short"}, "at least 32"),
    ({"api_keys": ("plainkey:t:caller",)}, "sha256"),
    ({"api_keys": ("a" * 64 + ":t:boss",)}, "role"),
    ({"api_keys": ("a" * 64 + ":acme\n:caller",)}, "bad tenant"),  # "$" once admitted the newline
    ({"allowed_origins": ("https://x.com/path",)}, "allowed_origins"),
    ({"bridge_sources": ("not-a-net",)}, "bridge_sources"),
])
def test_settings_validation(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        SecuritySettings(**kwargs).validate()  # type: ignore[arg-type]


def test_settings_repr_hides_secrets(settings: SecuritySettings) -> None:
    assert SECRET not in repr(settings)
    assert hash_api_key(KEY_A) not in repr(settings)


def test_query_of() -> None:
    got = query_of("/ws?access_token=abc&tenant=a&access_token=zzz")
    assert got == {"access_token": "abc", "tenant": "a"}
    assert query_of("/ws") == {}
    with pytest.raises(AuthError):
        query_of("/ws?" + "&".join(f"k{i}=v" for i in range(40)))


def test_own_pages_are_allowed_by_the_list_the_server_passes(settings: SecuritySettings) -> None:
    pages = own_origins("127.0.0.1", 8080)
    own = {"Origin": "http://127.0.0.1:8080", "Host": "127.0.0.1:8080"}
    principal = authenticate(bearer(token(), **own), {}, settings, now=NOW, own_origins=pages)
    assert principal.tenant == "tenant-a"
    other_port = {"Origin": "http://127.0.0.1:9999", "Host": "127.0.0.1:8080"}
    assert code_of(bearer(token(), **other_port), settings) == "origin-forbidden"
    assert "http://localhost:8080" in pages and "http://10.1.2.3:8080" in own_origins("10.1.2.3", 8080)


@pytest.mark.parametrize("origin, host", [
    ("http://rebind.evil.example:8080", "rebind.evil.example:8080"),  # DNS rebinding: Host follows
    ("http://gw.local:8080", "gw.local:8080"),  # same-host is no longer a reason
    ("https://127.0.0.1:8080", "127.0.0.1:8080"),  # the scheme counts
    ("http://127.0.0.1:8080.evil.example", "127.0.0.1:8080"),
])
def test_origin_never_trusts_the_host_header(origin: str, host: str) -> None:
    with pytest.raises(AuthError) as err:
        authenticate({"Origin": origin, "Host": host}, {}, SecuritySettings(), now=NOW,
                     own_origins=own_origins("127.0.0.1", 8080))
    assert err.value.code == "origin-forbidden"
