"""The statements that write each record, shared by the SQLite and PostgreSQL backends (the
schema in gateway/store/migrations). All idempotent, so a replayed journal writes nothing twice."""

from __future__ import annotations

import json
from typing import Any

from gateway.store.records import AuditRec, ErrorRec, Record, SessionEndRec, SessionStartRec, TurnRec


def record_sql(record: Record, mark: str) -> tuple[str, tuple[Any, ...]]:
    """(statement, parameters) with `mark` as the placeholder ("?" for SQLite, "%s" for psycopg)."""
    def marks(n: int) -> str:
        return ", ".join([mark] * n)

    if isinstance(record, TurnRec):
        # seq: the session's next number, allocated here as the row is written, so a session
        # resumed after a drop continues its numbering instead of colliding.
        return (f"INSERT INTO turns (session_id, seq, turn_id, speaker, modality, text, language, at,"
                f" timings, rec_id) SELECT {mark}, COALESCE(MAX(seq), 0) + 1, {marks(8)} FROM turns"
                f" WHERE session_id = {mark} ON CONFLICT (rec_id) DO NOTHING",
                (record.session_id, record.turn_id, record.speaker, record.modality, record.text,
                 record.language, record.at, json.dumps(record.timings), record.rid, record.session_id))
    if isinstance(record, SessionStartRec):
        # A resumed session is live again: its earlier end is cleared until it ends once more.
        return (f"INSERT INTO sessions (id, tenant, channel, language, started_at, caller_hash)"
                f" VALUES ({marks(6)}) ON CONFLICT (id) DO UPDATE SET ended_at = NULL, end_reason = NULL",
                (record.session_id, record.tenant, record.channel, record.language, record.at,
                 record.caller_hash))
    if isinstance(record, ErrorRec):
        return (f"INSERT INTO errors (session_id, code, message, at) VALUES ({marks(4)})"
                " ON CONFLICT (session_id, at, code) DO NOTHING",
                (record.session_id, record.code, record.message, record.at))
    if isinstance(record, SessionEndRec):
        return (f"UPDATE sessions SET ended_at = {mark}, end_reason = {mark} WHERE id = {mark}",
                (record.at, record.reason, record.session_id))
    assert isinstance(record, AuditRec)
    return (f"INSERT INTO audit (at, subject, role, tenant, action, session_id) VALUES ({marks(6)})",
            (record.at, record.subject, record.role, record.tenant, record.action, record.session_id))
