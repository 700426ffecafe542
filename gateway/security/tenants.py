"""Per-tenant settings: what one tenant's sessions get that differs from the gateway's defaults.

`tenants.file` names a TOML file with one table per tenant (a tenant without a table gets the
defaults). Read and checked at start like every other setting: unknown tenants' names, unknown
keys and bad values stop the start with a message naming them.

    [acme]
    max_sessions = 20               # live sessions, all nodes together (0: security.max_sessions_per_tenant)
    language = "zh"                 # what a session asking for "auto" speaks ("": speech.language)
    channels = ["phone", "kiosk"]   # the channels its sessions may use ([]: all)

Each tenant's knowledge base is a folder under core.tenant_kb_root (docs/core.md).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.security.settings import TENANT_NAME

# The values the WebSocket protocol accepts (gateway.protocol.ws_v1), repeated here so settings
# do not import the protocol; tests/security/test_tenants.py keeps the two equal.
LANGUAGES = ("en", "zh", "yue", "es", "fr", "de", "ja", "ko", "pt", "it", "ru", "ar", "hi", "vi",
             "th", "id", "tr", "nl", "pl")
CHANNELS = ("websocket", "browser", "kiosk", "phone")
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class TenantSettings:
    max_sessions: int = 0
    language: str = ""
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class TenantsSettings:
    file: str = ""  # TOML, one table per tenant (docs/production.md); "" = every tenant gets the defaults

    def validate(self) -> None:
        self.load()

    def load(self) -> Mapping[str, TenantSettings]:
        if not self.file:
            return {}
        path = Path(self.file)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ConfigError(f"tenants.file {self.file} is over {MAX_FILE_BYTES} bytes")
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"tenants.file {self.file} not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"tenants.file {self.file}: {exc}") from None
        return {tenant: _tenant(tenant, values) for tenant, values in data.items()}


def _tenant(tenant: str, values: Any) -> TenantSettings:
    def check(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(f"tenants.file [{tenant[:64]}]: {message}")

    check(TENANT_NAME.fullmatch(tenant) is not None, "not a tenant name (letters, digits, '_', '.', '-')")
    check(isinstance(values, dict), "must be a table")
    known = {f.name for f in fields(TenantSettings)}
    unknown = sorted(set(values) - known)
    check(not unknown, f"unknown settings {unknown}; known: {sorted(known)}")
    max_sessions = values.get("max_sessions", 0)
    whole = isinstance(max_sessions, int) and not isinstance(max_sessions, bool)
    check(whole and 0 <= max_sessions <= 100_000, "max_sessions must be an integer 0..100000")
    language = values.get("language", "")
    check(language == "" or language in LANGUAGES, f"language must be one of {LANGUAGES}")
    channels = values.get("channels", [])
    check(isinstance(channels, list) and all(c in CHANNELS for c in channels),
          f"channels must be a list of {CHANNELS}")
    return TenantSettings(max_sessions, language, tuple(channels))


__all__ = ["CHANNELS", "LANGUAGES", "TenantSettings", "TenantsSettings"]
