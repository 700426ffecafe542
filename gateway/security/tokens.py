"""HS256 JSON Web Tokens and API keys, written from RFC 7519/7515 with the standard library.

Only HS256 is accepted (never `none`, never an algorithm chosen by the token); signatures are
compared in constant time; `exp` is required, `nbf`/`aud`/`iss` checked; sizes are capped; the
`tenant` claim follows the tenant-name rule of API keys and tenants.file (or is `*`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayError
from gateway.security.settings import TENANT_NAME

MAX_TOKEN_CHARS = 4096
KEY_PREFIX = "gk_"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class AuthError(GatewayError):
    """A connection that did not prove who it is, or may not do what it asked."""

    code = "auth-invalid"


@dataclass(frozen=True)
class Claims:
    subject: str
    tenant: str
    role: str
    expires_at: float


def _b64decode(part: str) -> bytes:
    if not part or _B64URL.fullmatch(part) is None:
        raise AuthError("token is not base64url", code="auth-invalid")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise AuthError("token is not base64url", code="auth-invalid") from None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise AuthError(f"token {what} is not JSON", code="auth-invalid") from None
    if not isinstance(value, dict):
        raise AuthError(f"token {what} is not a JSON object", code="auth-invalid")
    return value


def issue_jwt(secret: str, *, tenant: str, role: str, subject: str, audience: str, now: float,
              ttl_s: int = 3600, issuer: str = "") -> str:
    """A signed token (for `gateway ops token` and tests; production tokens come from the IdP)."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = {"sub": subject, "tenant": tenant, "role": role, "aud": audience,
                              "iat": int(now), "nbf": int(now), "exp": int(now) + ttl_s}
    if issuer:
        claims["iss"] = issuer
    signing_input = ".".join(_b64encode(json.dumps(p, separators=(",", ":")).encode())
                             for p in (header, claims))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


def verify_jwt(token: str, secret: str, *, audience: str, now: float, issuer: str = "",
               leeway_s: int = 30, max_ttl_s: int = 86_400) -> Claims:
    if not secret:
        raise AuthError("this gateway accepts no tokens", code="auth-invalid")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise AuthError("malformed token", code="auth-invalid")
    head_b64, body_b64, sig_b64 = token.split(".")
    header = _json_object(_b64decode(head_b64), "header")
    # The algorithm is fixed by configuration; a token asking for another one (or "none") is forged.
    if header.get("alg") != "HS256" or "crit" in header:
        raise AuthError("token algorithm must be HS256", code="auth-invalid")
    expected = hmac.new(secret.encode(), f"{head_b64}.{body_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64decode(sig_b64)):
        raise AuthError("token signature does not verify", code="auth-invalid")
    claims = _json_object(_b64decode(body_b64), "claims")
    exp = _number(claims, "exp", required=True)
    if exp is None:  # _number raised already; this narrows the type
        raise AuthError("token has no 'exp'", code="auth-invalid")
    if now > exp + leeway_s:
        raise AuthError("token has expired", code="auth-expired")
    nbf = _number(claims, "nbf", required=False)
    if nbf is not None and now + leeway_s < nbf:
        raise AuthError("token is not valid yet", code="auth-invalid")
    iat = _number(claims, "iat", required=False)
    if exp - (iat if iat is not None else now) > max_ttl_s:
        raise AuthError("token lifetime is longer than allowed", code="auth-invalid")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise AuthError("token is for another audience", code="auth-invalid")
    if issuer and claims.get("iss") != issuer:
        raise AuthError("token is from another issuer", code="auth-invalid")
    tenant, role, sub = claims.get("tenant"), claims.get("role"), claims.get("sub", "")
    if not isinstance(tenant, str) or not isinstance(role, str) or not isinstance(sub, str):
        raise AuthError("token needs string 'tenant' and 'role' claims", code="auth-invalid")
    # The rule of API-key tenants and tenants.file; "*" (every tenant) is for admins (authenticate).
    if tenant != "*" and TENANT_NAME.fullmatch(tenant) is None:
        raise AuthError("token 'tenant' claim is not a tenant name (1..64 letters, digits, '_', '.', '-')",
                        code="auth-invalid")
    return Claims(sub or "jwt", tenant, role, float(exp))


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AuthError(f"token claim {name!r} must be a number", code="auth-invalid")
    return float(value)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random strings, so a plain sha256 cannot be brute-forced; no salt is needed.
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and credential.startswith("eyJ")
