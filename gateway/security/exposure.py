"""Secure by default: what `gateway serve` refuses to start with (pure; the CLI reports it).

With `security.mode = "off"` every connection is an anonymous administrator (any tenant, agent
take-over, transcripts, /metrics): fine on loopback for development, never on a network unless
the operator says so with `--insecure`. In `required` mode the phone bridges must prove
something besides a loopback source address, which every client has behind a reverse proxy.
"""

from __future__ import annotations

import ipaddress

from gateway.security.bridges import bridge_credential_configured
from gateway.security.settings import SecuritySettings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name that may resolve to anything: treated as exposed


def refusal(security: SecuritySettings, host: str, *, insecure: bool) -> str | None:
    """Why serving on `host` with these settings is refused (one line), or None."""
    if security.mode == "off" and not is_loopback(host) and not insecure:
        return (f"refusing to listen on {host} with security.mode = 'off' (every connection would be an "
                "anonymous admin): set security.mode = 'required' with credentials, listen on 127.0.0.1, "
                "or pass --insecure")
    if security.mode == "required" and not bridge_credential_configured(security):
        return ("security.mode = 'required' needs a phone-bridge credential: security.bridge_secret, "
                "security.twilio_auth_token, or security.bridge_sources beyond loopback")
    return None


def insecure_warning(host: str, port: int) -> str:
    return (f"INSECURE: listening on {host}:{port} with security.mode = 'off' (--insecure): anyone who "
            "can reach this port is an administrator of every tenant")
