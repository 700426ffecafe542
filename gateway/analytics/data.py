"""Reads one window of stored calls: the transcript store and the core's records (read-only).

Transcript store (store.path): sessions, turns with per-stage timings, the `handoff: <reason>`
system lines. Core records (core.records_path): feedback answers and the per-turn event log
(turn, answer, no-answer, action, action-step, step-up, verification, emergency, offer).
Everything in them is already PII-masked.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> float:
    """'7d', '12h', '30m', '2w' -> seconds."""
    m = _SINCE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"--since {text!r}: expected a number and a unit (m, h, d, w), e.g. 7d")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


@dataclass(frozen=True)
class Turn:
    session_id: str
    turn_id: int
    speaker: str
    text: str
    timings: dict[str, float]


@dataclass(frozen=True)
class Event:
    session_id: str
    turn: int
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Feedback:
    session_id: str
    question: str
    helpful: bool
    sources: tuple[str, ...]


@dataclass
class Window:
    since: float
    until: float
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> channel, language, end
    turns: list[Turn] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)


@contextmanager
def _read_only(path: str | Path) -> Iterator[sqlite3.Connection | None]:
    if not Path(path).exists():
        yield None
        return
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def load_window(store_path: str | Path, records_path: str | Path, since_s: float, *,
                tenant: str | None = None, now: float | None = None) -> Window:
    """Blocking. Calls started within the last `since_s` seconds (of one tenant, or every one)."""
    until = time.time() if now is None else now
    window = Window(until - since_s, until)
    with _read_only(store_path) as conn:
        if conn is not None and "sessions" in _tables(conn):
            query = ("SELECT id, tenant, channel, language, ended_at, end_reason FROM sessions"
                     " WHERE started_at >= ? AND started_at <= ?")
            params: tuple[Any, ...] = (window.since, until)
            if tenant is not None:
                query, params = query + " AND tenant = ?", (*params, tenant)
            for sid, ten, channel, language, ended, reason in conn.execute(query, params):
                window.sessions[sid] = {"tenant": ten, "channel": channel, "language": language,
                                        "ended": ended is not None, "end_reason": reason or ""}
            for sid, turn_id, speaker, text, timings in conn.execute(
                    "SELECT t.session_id, t.turn_id, t.speaker, t.text, t.timings FROM turns t"
                    " JOIN sessions s ON s.id = t.session_id WHERE s.started_at >= ? AND s.started_at <= ?"
                    " ORDER BY t.session_id, t.seq", (window.since, until)):
                if sid in window.sessions:
                    window.turns.append(Turn(sid, turn_id, speaker, text, _json(timings)))
    with _read_only(records_path) as conn:
        if conn is not None and {"core_events", "feedback"} <= _tables(conn):
            where, params = " WHERE at >= ? AND at <= ?", (window.since, until)
            if tenant is not None:
                where, params = where + " AND tenant = ?", (*params, tenant)
            for sid, turn, kind, detail in conn.execute(
                    "SELECT session_id, turn, kind, detail FROM core_events" + where + " ORDER BY rowid",
                    params):
                window.events.append(Event(sid, turn, kind, _json(detail)))
            for sid, question, helpful, sources in conn.execute(
                    "SELECT session_id, question, helpful, sources FROM feedback" + where + " ORDER BY rowid",
                    params):
                window.feedback.append(Feedback(sid, question, bool(helpful), tuple(_json(sources) or ())))
    return window


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {}
