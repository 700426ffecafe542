"""Who is connecting (`authenticate`) and what they may touch (the tenancy policy).

`authenticate` is pure: headers and query in, a Principal or an AuthError with a stable code out.
The WebSocket server calls it in `process_request` (before the upgrade) and the session layer
calls the policy functions; nothing here does I/O.
"""

from __future__ import annotations

import hmac
import http
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from gateway.security.settings import SecuritySettings
from gateway.security.tokens import AuthError, hash_api_key, looks_like_jwt, verify_jwt

ANY_TENANT = "*"
MAX_CREDENTIAL_CHARS = 4096


@dataclass(frozen=True)
class Principal:
    subject: str  # key name or the token's `sub`; never the credential itself
    tenant: str  # "*" only for admins and for security.mode = "off"
    role: str  # "caller" | "agent" | "admin"
    method: str  # "api-key" | "jwt" | "none"

    def may_act_for(self, tenant: str) -> bool:
        return self.tenant == ANY_TENANT or self.tenant == tenant


ANONYMOUS = Principal("anonymous", ANY_TENANT, "admin", "none")


def authenticate(headers: Mapping[str, str], query: Mapping[str, str], settings: SecuritySettings, *,
                 now: float, own_origins: Iterable[str] = ()) -> Principal:
    """The principal behind a WebSocket upgrade request (`headers`: websockets' case-insensitive
    Headers, or a dict with canonical names).

    Credentials: `Authorization: Bearer <jwt|api key>`, `X-API-Key: <key>`, or (browsers cannot set
    headers on a WebSocket) the query parameter `access_token`. The query is redacted from logs.
    A browser's `Origin` must be one of `settings.allowed_origins` or `own_origins` (the gateway's
    own pages: the server passes http://127.0.0.1:PORT and http://localhost:PORT), scheme included.
    """
    origin = headers.get("Origin")
    if origin is not None and not _origin_allowed(origin, (*settings.allowed_origins, *own_origins)):
        raise AuthError(f"origin {origin[:100]!r} is not allowed", code="origin-forbidden")
    if settings.mode == "off":
        return ANONYMOUS
    credential = _credential(headers, query)
    if credential is None:
        raise AuthError("credentials required: Authorization: Bearer <token>", code="auth-missing")
    if len(credential) > MAX_CREDENTIAL_CHARS:
        raise AuthError("credential too long", code="auth-invalid")
    if looks_like_jwt(credential):
        claims = verify_jwt(credential, settings.jwt_secret, audience=settings.jwt_audience, now=now,
                            issuer=settings.jwt_issuer, leeway_s=settings.jwt_leeway_s,
                            max_ttl_s=settings.jwt_max_ttl_s)
        principal = Principal(claims.subject, claims.tenant, claims.role, "jwt")
    else:
        principal = _api_key(credential, settings)
    if principal.role not in ("caller", "agent", "admin"):
        raise AuthError(f"unknown role {principal.role[:20]!r}", code="auth-invalid")
    if principal.tenant == ANY_TENANT and principal.role != "admin":
        raise AuthError("only admins may span tenants", code="tenant-forbidden")
    return principal


def query_of(path: str) -> dict[str, str]:
    """A request path's query parameters (first value of each; at most 32 fields)."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        pairs = parse_qsl(urlsplit(path).query, max_num_fields=32)
    except ValueError:
        raise AuthError("too many query parameters", code="auth-invalid") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _credential(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("Authorization must be 'Bearer <token>'", code="auth-invalid")
        return value.strip()
    return headers.get("X-API-Key") or query.get("access_token") or None


def _api_key(key: str, settings: SecuritySettings) -> Principal:
    digest = hash_api_key(key)
    found = None
    for entry in settings.key_entries():  # every entry compared: no early exit leaks which matched
        if hmac.compare_digest(digest, entry.digest):
            found = entry
    if found is None:
        raise AuthError("unknown API key", code="auth-invalid")
    return Principal(found.name, found.tenant, found.role, "api-key")


def _origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """An exact match on scheme://host[:port]. Never compared with the Host header: after DNS
    rebinding the attacker's page sends Origin and Host with the same (attacker's) name."""
    origin = origin.strip().rstrip("/").lower()
    return any(a == "*" or a.rstrip("/").lower() == origin for a in allowed)


# ---------------------------------------------------------------------- policy


def authorize_start(principal: Principal, requested_tenant: str | None, role: str) -> str:
    """The tenant a `session.start` runs under; refuses other tenants and roles above the principal's.

    A caller that names no tenant (or "default") gets its principal's own tenant.
    """
    if role == "agent" and principal.role not in ("agent", "admin"):
        raise AuthError("this credential may not act as an agent", code="role-forbidden")
    if principal.tenant != ANY_TENANT and requested_tenant in (None, "", "default"):
        return principal.tenant
    tenant = requested_tenant or "default"
    if not principal.may_act_for(tenant):
        raise AuthError(f"this credential is not for tenant {tenant[:64]!r}", code="tenant-forbidden")
    return tenant


def check_tenant(principal: Principal, tenant: str) -> None:
    """Any access to a session, transcript, queue entry or knowledge base of `tenant`."""
    if not principal.may_act_for(tenant):
        raise AuthError("that belongs to another tenant", code="tenant-forbidden")


def can_read_transcript(principal: Principal, transcript_tenant: str) -> bool:
    return principal.role in ("agent", "admin") and principal.may_act_for(transcript_tenant)


def check_read_transcript(principal: Principal, transcript_tenant: str) -> None:
    if principal.role not in ("agent", "admin"):
        raise AuthError("only agents and admins read transcripts", code="role-forbidden")
    check_tenant(principal, transcript_tenant)


T = TypeVar("T")


def visible(principal: Principal, items: Iterable[T], tenant_of: Callable[[T], str]) -> list[T]:
    """The items (queue tickets, sessions) of the principal's tenant only."""
    return [item for item in items if principal.may_act_for(tenant_of(item))]


_STATUS = {"auth-missing": http.HTTPStatus.UNAUTHORIZED, "auth-invalid": http.HTTPStatus.UNAUTHORIZED,
           "auth-expired": http.HTTPStatus.UNAUTHORIZED}


def http_status(error: AuthError) -> http.HTTPStatus:
    """401 for missing/bad credentials, 403 for a valid principal going where it may not."""
    return _STATUS.get(error.code, http.HTTPStatus.FORBIDDEN)
