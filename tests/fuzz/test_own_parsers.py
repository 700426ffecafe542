"""Fuzzing this area's own parsers: credentials, the store journal, cluster events."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cluster.base import decode_event
from gateway.errors import GatewayError
from gateway.security import AuthError, SecuritySettings, authenticate, hash_api_key
from gateway.store.buffered import decode_record

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = SecuritySettings(mode="required", jwt_secret="q" * 40,
                            api_keys=(f"{hash_api_key('gk_known')}:t:caller",))
header_names = st.sampled_from(["Authorization", "X-API-Key", "Origin", "Other"])


@FUZZ
@given(st.dictionaries(header_names, st.text(max_size=300), max_size=4),
       st.dictionaries(st.sampled_from(["access_token", "x"]), st.text(max_size=300), max_size=2))
def test_authenticate_only_raises_auth_errors(headers: dict[str, str], query: dict[str, str]) -> None:
    try:
        principal = authenticate(headers, query, SETTINGS, now=1_800_000_000)
    except AuthError as exc:
        assert exc.code in ("auth-missing", "auth-invalid", "auth-expired", "origin-forbidden",
                            "tenant-forbidden")
    else:  # only the one configured key can get in
        assert principal.tenant == "t"


@FUZZ
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=", max_size=600))
def test_token_shaped_garbage(token: str) -> None:
    with contextlib.suppress(AuthError):
        authenticate({"Authorization": f"Bearer eyJ{token}"}, {}, SETTINGS, now=0)


@FUZZ
@given(st.binary(max_size=2048))
def test_journal_lines(line: bytes) -> None:
    with contextlib.suppress(ValueError):
        decode_record(line + b"\n")


@FUZZ
@given(st.binary(max_size=2048) | st.text(max_size=500))
def test_cluster_events(raw: bytes | str) -> None:
    try:
        decode_event(raw)
    except GatewayError as exc:
        assert exc.code == "cluster-bad-event"


@FUZZ
@given(st.integers(1, 200_000))
def test_deep_nesting(depth: int) -> None:
    raw = "[" * depth + "]" * depth
    with contextlib.suppress(ValueError):
        decode_record(raw.encode() + b"\n")
    try:
        decode_event(raw)
    except GatewayError as exc:
        assert exc.code == "cluster-bad-event"
