"""The gateway's error hierarchy lives in the leaf contracts package (every layer raises it);
re-exported here so gateway code and integrators keep importing gateway.errors."""

from contracts.errors import (
    BackendError,
    ConfigError,
    GatewayError,
    LimitExceeded,
    MediaError,
    ModelUnavailable,
    ProtocolError,
)

__all__ = ["BackendError", "ConfigError", "GatewayError", "LimitExceeded", "MediaError", "ModelUnavailable",
           "ProtocolError"]
