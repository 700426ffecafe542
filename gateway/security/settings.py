"""Security settings: who may connect (API keys, HS256 JWTs), from where, and how bridges prove themselves.

Secrets are `repr=False` so a settings dump never prints them; API keys are stored only as sha256
hashes (`gateway ops new-key` prints the key once and the line to put here).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from gateway.errors import ConfigError

ROLES = ("caller", "agent", "admin")
MODES = ("off", "required")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# What a tenant may be called (API keys here, per-tenant knowledge folders in core.tenant_kb_root).
TENANT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # use with fullmatch: "$" would admit a trailing newline
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key at least as long as the hash output


@dataclass(frozen=True)
class ApiKeyEntry:
    digest: str  # sha256 hex of the key
    tenant: str
    role: str
    name: str


@dataclass(frozen=True)
class SecuritySettings:
    # "off": no credentials asked (loopback development; every connection is an admin of every
    # tenant). "required": every WebSocket/bridge connection must authenticate.
    mode: str = "off"
    # Each "SHA256HEX:tenant:role[:name]"; the key itself is never stored.
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    jwt_secret: str = field(default="", repr=False)  # HS256 shared secret (>= 32 bytes); "" = no JWTs
    jwt_audience: str = "cc-gateway"  # the `aud` a token must carry
    jwt_issuer: str = ""  # when set, the `iss` a token must carry
    jwt_leeway_s: int = 30  # clock skew tolerated on exp/nbf
    jwt_max_ttl_s: int = 86_400  # tokens living longer than this (exp - iat) are refused
    # Browser origins allowed to open a WebSocket ("https://app.example.com") besides the gateway's
    # own pages (same origin); a request without an Origin header (phone bridges, SDK clients) is
    # not a browser and is not origin-checked.
    allowed_origins: tuple[str, ...] = ()
    bridge_secret: str = field(default="", repr=False)  # shared secret phone bridges send
    bridge_sources: tuple[str, ...] = ("127.0.0.1/32", "::1/128")  # source networks of bridges
    twilio_auth_token: str = field(default="", repr=False)  # checks X-Twilio-Signature when set
    public_url: str = ""  # the URL Twilio signs (wss://gw.example.com); behind a proxy Host lies
    caller_pepper: str = field(default="", repr=False)  # keys the caller-number hash in the store
    max_messages_per_s: float = 200.0  # per connection (20 ms audio is 50/s, 10 ms frames 100/s)
    max_bytes_per_s: int = 4_000_000  # per connection, averaged over a 4 s burst (screenshots)
    max_sessions_per_tenant: int = 0  # live sessions per tenant, all nodes together; 0 = no cap
    metrics_public: bool = False  # mode "required": /metrics without an admin credential (private scrape)
    # Abuse bounds (issue 16): an idle upgrade holds a file descriptor, garbage fills logs and store.
    start_timeout_s: float = 10.0  # a connection with no session.start / bridge start by then is closed
    max_connections: int = 0  # open WebSocket connections, started or not; 0 = 2 x server.max_sessions + 10
    max_bad_frames: int = 100  # invalid frames one connection may send before it is cut off (1008)
    max_error_rows_per_s: float = 2.0  # per session, burst 10: error rows/log lines beyond are not written

    def validate(self) -> None:
        _check(self.mode in MODES, f"security.mode must be one of {MODES}")
        self.key_entries()  # parses and checks every api_keys line
        if self.jwt_secret:
            _check(len(self.jwt_secret.encode()) >= MIN_SECRET_BYTES,
                   f"security.jwt_secret must be at least {MIN_SECRET_BYTES} bytes")
        _check(bool(self.jwt_audience), "security.jwt_audience must not be empty")
        _check(0 <= self.jwt_leeway_s <= 300, "security.jwt_leeway_s must be 0..300")
        _check(60 <= self.jwt_max_ttl_s <= 30 * 86_400, "security.jwt_max_ttl_s must be 60 s..30 days")
        for origin in self.allowed_origins:
            _check(origin == "*" or re.match(r"^https?://[^/\s]+$", origin) is not None,
                   f"security.allowed_origins: {origin!r} must be scheme://host[:port] without a path")
        self.source_networks()
        if self.mode == "required":
            _check(bool(self.api_keys or self.jwt_secret),
                   "security.mode = 'required' needs security.api_keys or security.jwt_secret")
        _check(10 <= self.max_messages_per_s <= 10_000, "security.max_messages_per_s must be 10..10000")
        _check(64_000 <= self.max_bytes_per_s <= 1_000_000_000,
               "security.max_bytes_per_s must be 64000..1e9")
        _check(self.max_sessions_per_tenant >= 0, "security.max_sessions_per_tenant must be >= 0")
        _check(0.5 <= self.start_timeout_s <= 300, "security.start_timeout_s must be 0.5..300")
        _check(self.max_connections >= 0, "security.max_connections must be >= 0")
        _check(1 <= self.max_bad_frames <= 100_000, "security.max_bad_frames must be 1..100000")
        _check(0.1 <= self.max_error_rows_per_s <= 1000, "security.max_error_rows_per_s must be 0.1..1000")
        if self.bridge_secret:
            _check(len(self.bridge_secret) >= 16, "security.bridge_secret must be at least 16 characters")

    def key_entries(self) -> tuple[ApiKeyEntry, ...]:
        entries = []
        for i, line in enumerate(self.api_keys):
            parts = line.strip().split(":")
            _check(len(parts) in (3, 4), f"security.api_keys[{i}] must be 'SHA256HEX:tenant:role[:name]'")
            digest, tenant, role = parts[0].lower(), parts[1], parts[2]
            _check(_HEX64.match(digest) is not None, f"security.api_keys[{i}]: not a sha256 hex digest "
                   "(store the hash from `gateway ops new-key`, never the key)")
            _check(tenant == "*" or TENANT_NAME.fullmatch(tenant) is not None,
                   f"security.api_keys[{i}]: bad tenant")
            _check(role in ROLES, f"security.api_keys[{i}]: role must be one of {ROLES}")
            _check(tenant != "*" or role == "admin", f"security.api_keys[{i}]: only admins span tenants")
            entries.append(ApiKeyEntry(digest, tenant, role, parts[3] if len(parts) == 4 else f"key{i}"))
        return tuple(entries)

    def source_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        try:
            return tuple(ipaddress.ip_network(s, strict=False) for s in self.bridge_sources)
        except ValueError as exc:
            raise ConfigError(f"security.bridge_sources: {exc}") from None

    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value (the log filter removes them verbatim)."""
        return tuple(s for s in (self.jwt_secret, self.bridge_secret, self.twilio_auth_token,
                                 self.caller_pepper) if s)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
