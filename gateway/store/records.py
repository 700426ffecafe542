"""The records the transcript store keeps, their journal encoding, and their normalisation.

Every record is normalised before it is journaled (and again when a journal line is read back):
unpaired UTF-16 surrogates and control characters become U+FFFD, strings are capped, numbers are
finite and in range. So nothing a caller sends can make an insert fail for encoding or size
reasons, in SQLite or PostgreSQL. Text arriving here has already been PII-masked by the session.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LINE_BYTES = 256 * 1024  # a journal line longer than this is corrupt, not a record
MAX_MESSAGE_CHARS = 500
MAX_TEXT_CHARS = 20_000  # a turn's text (typed turns are capped at 4000 by the protocol)
MAX_ID_CHARS = 256  # session ids, tenants, subjects
MAX_NAME_CHARS = 64  # speaker, modality, language, codes, reasons, roles, actions
MAX_TIMINGS = 32
INT32 = 2**31 - 1  # turn ids live in an INTEGER column (4 bytes in PostgreSQL)

# Text may keep tab and newline; identifiers keep no control character at all.
_BAD_TEXT = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_NAME = re.compile("[\ud800-\udfff\x00-\x1f\x7f]")


@dataclass(frozen=True)
class TurnRecord:
    """One turn as a session hands it to the store (speaker: caller | bot | agent | system)."""

    session_id: str
    turn_id: int
    speaker: str
    modality: str
    text: str
    language: str
    timings: Mapping[str, float]
    at: float


@dataclass(frozen=True)
class SessionStartRec:
    session_id: str
    tenant: str
    channel: str
    language: str
    at: float
    caller_hash: str | None = None


@dataclass(frozen=True)
class TurnRec:
    session_id: str
    rid: str  # unique per record: a replayed journal line is written once. seq is the backend's
    turn_id: int
    speaker: str
    modality: str
    text: str
    language: str
    at: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorRec:
    session_id: str
    code: str
    message: str
    at: float


@dataclass(frozen=True)
class SessionEndRec:
    session_id: str
    reason: str
    at: float


@dataclass(frozen=True)
class AuditRec:
    at: float
    subject: str
    role: str
    tenant: str
    action: str
    session_id: str


Record = SessionStartRec | TurnRec | ErrorRec | SessionEndRec | AuditRec
_KINDS: dict[str, type[Record]] = {"start": SessionStartRec, "turn": TurnRec, "error": ErrorRec,
                                   "end": SessionEndRec, "audit": AuditRec}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


# ---------------------------------------------------------------------- normalisation


def clean_text(value: object, cap: int = MAX_TEXT_CHARS) -> str:
    text = value if isinstance(value, str) else str(value)
    return _BAD_TEXT.sub("\ufffd", text[:cap])


def clean_name(value: object, cap: int = MAX_NAME_CHARS) -> str:
    text = value if isinstance(value, str) else str(value)
    return _BAD_NAME.sub("\ufffd", text[:cap])


def finite(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    number = float(value)
    return number if math.isfinite(number) and abs(number) < 1e15 else default


def _int32(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(-INT32, min(INT32, int(value)))


def clean_timings(timings: Mapping[Any, object]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in list(timings.items())[:MAX_TIMINGS]:
        out[clean_name(key)] = round(finite(value), 1)
    return out


def normalise(record: Record) -> Record:
    """The record with every field storable (see the module docstring)."""
    sid = clean_name(record.session_id, MAX_ID_CHARS)
    at = finite(record.at)
    if isinstance(record, TurnRec):
        return dataclasses.replace(
            record, session_id=sid, rid=clean_name(record.rid), turn_id=_int32(record.turn_id),
            speaker=clean_name(record.speaker), modality=clean_name(record.modality),
            text=clean_text(record.text), language=clean_name(record.language), at=at,
            timings=clean_timings(record.timings if isinstance(record.timings, Mapping) else {}))
    if isinstance(record, SessionStartRec):
        hashed = None if record.caller_hash is None else clean_name(record.caller_hash, MAX_ID_CHARS)
        return dataclasses.replace(record, session_id=sid, tenant=clean_name(record.tenant, MAX_ID_CHARS),
                                   channel=clean_name(record.channel), language=clean_name(record.language),
                                   at=at, caller_hash=hashed)
    if isinstance(record, ErrorRec):
        return dataclasses.replace(record, session_id=sid, code=clean_name(record.code),
                                   message=clean_text(record.message, MAX_MESSAGE_CHARS), at=at)
    if isinstance(record, SessionEndRec):
        return dataclasses.replace(record, session_id=sid, reason=clean_name(record.reason), at=at)
    return dataclasses.replace(record, session_id=sid, at=at,
                               subject=clean_name(record.subject, MAX_ID_CHARS), role=clean_name(record.role),
                               tenant=clean_name(record.tenant, MAX_ID_CHARS),
                               action=clean_name(record.action))


# ---------------------------------------------------------------------- journal lines


def encode_record(record: Record) -> bytes:
    return json.dumps({"k": _KIND_OF[type(record)], **asdict(record)}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8", "surrogatepass") + b"\n"


def record_from_dict(data: object) -> Record:
    """A record from its decoded JSON object (ValueError when it is not one), normalised."""
    if not isinstance(data, dict):
        raise ValueError("journal line is not an object")
    data = dict(data)
    cls = _KINDS.get(data.pop("k", None))
    if cls is None:
        raise ValueError("unknown record kind")
    if cls is TurnRec and "seq" in data:  # a journal written before rids: the same key as migration 3
        data.setdefault("rid", f"{data.get('session_id')}:{data.pop('seq')}")
    try:
        return normalise(cls(**data))
    except (TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from None


def decode_record(line: bytes) -> Record:
    """One journal line; ValueError when it is not a whole, well-formed record (a torn write)."""
    if len(line) > MAX_LINE_BYTES or not line.endswith(b"\n"):
        raise ValueError("incomplete or oversized journal line")
    try:
        data = json.loads(line.decode("utf-8", "replace"))
    except RecursionError:
        raise ValueError("journal line nested too deeply") from None
    return record_from_dict(data)
