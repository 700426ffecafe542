"""Proof that a phone bridge is ours: a source-address allow-list, a shared secret in the stream's
parameters, and Twilio's request signature (X-Twilio-Signature) where Twilio connects.

Twilio's algorithm (twilio.com/docs/usage/security): take the full URL Twilio requested, append
each POST parameter as name + value in name order, HMAC-SHA1 it with the account's auth token and
base64 the digest. A WebSocket upgrade is a GET, so its parameters are already in the URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from gateway.security.settings import SecuritySettings
from gateway.security.tokens import AuthError

MAX_SIGNED_CHARS = 64 * 1024
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """Twilio may sign with or without the default port; accept both spellings of the same URL."""
    parts = urlsplit(url)
    variants = [url]
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is None and default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{host}:{default}")))
    elif parts.port == default:
        variants.append(urlunsplit(parts._replace(netloc=host)))
    return variants


def check_twilio(signature: str | None, url: str, params: Mapping[str, str], auth_token: str) -> None:
    if not signature:
        raise AuthError("X-Twilio-Signature header missing", code="auth-missing")
    if len(url) + sum(len(k) + len(v) for k, v in params.items()) > MAX_SIGNED_CHARS:
        raise AuthError("signed request too large", code="auth-invalid")
    ok = False
    for candidate in _url_variants(url):  # every variant computed: timing does not say which matched
        ok |= hmac.compare_digest(twilio_signature(auth_token, candidate, params).encode(),
                                  signature.strip().encode())
    if not ok:
        raise AuthError("X-Twilio-Signature does not verify", code="auth-invalid")


def check_bridge(peer_address: str | None, secret: str | None, settings: SecuritySettings) -> None:
    """A bridge connection that can carry a secret (chan_websocket, media stream): its source
    address must be allow-listed, and when a bridge secret is configured it must present it."""
    check_source(peer_address, settings)
    if not settings.bridge_secret:
        return
    if not secret:
        raise AuthError("bridge secret missing", code="auth-missing")
    if not hmac.compare_digest(secret.encode(), settings.bridge_secret.encode()):
        raise AuthError("bridge secret does not match", code="auth-invalid")


def bridge_credential_configured(settings: SecuritySettings, *, twilio: bool = True) -> bool:
    """Whether phone bridges have something to prove besides coming from loopback: a shared
    secret, a Twilio auth token (for Twilio streams), or a source allow-list beyond loopback.
    Behind a reverse proxy every peer is 127.0.0.1, so the default list proves nothing there."""
    if settings.bridge_secret or (twilio and settings.twilio_auth_token):
        return True
    return any(not network.is_loopback for network in settings.source_networks())


def check_source(peer_address: str | None, settings: SecuritySettings) -> None:
    """Bridges without a place for a secret (AudioSocket, SIP) rest on the source allow-list."""
    try:
        address = ipaddress.ip_address((peer_address or "").split("%", 1)[0])
    except ValueError:
        raise AuthError("bridge source address unknown", code="bridge-source-forbidden") from None
    if not any(address in network for network in settings.source_networks()):
        raise AuthError(f"bridge source {address} is not allow-listed", code="bridge-source-forbidden")
