"""Authentication, tenancy policy, bridge verification, log redaction and the audit trail."""

from gateway.security.audit import AuditLog, AuditRecord
from gateway.security.auth import (
    ANONYMOUS,
    Principal,
    authenticate,
    authorize_start,
    can_read_transcript,
    check_read_transcript,
    check_tenant,
    http_status,
    query_of,
    visible,
)
from gateway.security.bridges import (
    bridge_credential_configured,
    check_bridge,
    check_source,
    check_twilio,
    twilio_signature,
)
from gateway.security.limits import ConnectionLimiter, TenantSessions, TokenBucket
from gateway.security.redact import RedactingFilter, caller_hash, install_redaction, redact
from gateway.security.settings import SecuritySettings
from gateway.security.tokens import AuthError, hash_api_key, issue_jwt, new_api_key, verify_jwt

__all__ = [
    "ANONYMOUS", "AuditLog", "AuditRecord", "AuthError", "ConnectionLimiter", "Principal",
    "RedactingFilter", "SecuritySettings", "TenantSessions", "TokenBucket", "authenticate",
    "authorize_start", "bridge_credential_configured",
    "caller_hash", "can_read_transcript", "check_bridge", "check_read_transcript",
    "check_source",
    "check_tenant", "check_twilio", "hash_api_key", "http_status", "install_redaction", "issue_jwt",
    "new_api_key", "query_of", "redact", "twilio_signature", "verify_jwt", "visible",
]
