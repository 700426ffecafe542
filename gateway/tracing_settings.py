"""The [tracing] settings section. Kept apart from gateway/tracing.py so that loading settings
(every CLI command) does not import the OpenTelemetry SDK."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.errors import ConfigError

EXPORTERS = ("none", "otlp")


@dataclass(frozen=True)
class TracingSettings:
    exporter: str = "none"  # "none" (no spans are recorded) or "otlp" (OTLP/HTTP protobuf to otlp_endpoint)
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"  # a collector's OTLP/HTTP traces URL
    service_name: str = "cc-gateway"  # the `service.name` resource attribute traces are filed under
    timeout_s: float = 5.0  # one export request; a collector slower than this loses that batch
    max_queue: int = 2048  # ended spans waiting for export; beyond it new spans are dropped, never queued

    def validate(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        check(self.exporter in EXPORTERS,
              f"tracing.exporter must be one of {EXPORTERS}, got {self.exporter!r}")
        try:
            url = urlsplit(self.otlp_endpoint)
            usable = url.scheme in ("http", "https") and bool(url.hostname)
        except ValueError:  # e.g. an unclosed [IPv6 literal
            usable = False
        check(usable,
              f"tracing.otlp_endpoint must be an http:// or https:// URL, got {self.otlp_endpoint!r}")
        check(0 < len(self.service_name) <= 128, "tracing.service_name must be 1..128 characters")
        check(0.1 <= self.timeout_s <= 60, "tracing.timeout_s must be 0.1..60")
        check(16 <= self.max_queue <= 100_000, "tracing.max_queue must be 16..100000")
