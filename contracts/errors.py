"""The gateway's error hierarchy: every failure a caller can cause has a stable string code.

Codes are part of the wire protocol (docs/protocol.md lists them); never rename one, only add.
A GatewayError ends the input that caused it, never the session.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of all errors that become an `error` event with a stable `code`."""

    code = "internal-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(GatewayError):
    """A message or frame on a wire that does not follow its protocol."""

    code = "protocol-bad-frame"


class LimitExceeded(GatewayError):
    """Input larger or faster than a configured cap."""

    code = "limit-exceeded"


class MediaError(GatewayError):
    """Audio, image or video that cannot be decoded or is in an unsupported format."""

    code = "media-unsupported"


class ModelUnavailable(GatewayError):
    """A model engine or its weights are missing or failed their checksum."""

    code = "model-unavailable"


class ConfigError(GatewayError):
    """Invalid settings, found at start-up."""

    code = "config-invalid"


class BackendError(GatewayError):
    """An external backend (LLM server, store, cache) failed or timed out."""

    code = "backend-failed"
