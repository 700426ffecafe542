"""`gateway call` must always finish: a turn the caller talked over never gets a timing event."""

from __future__ import annotations

import asyncio

from gateway.client import CallResult, settle, unsettled_turns


def _result(*events: dict) -> CallResult:
    return CallResult(session_id="s", events=list(events))


def test_a_turn_cleared_by_barge_in_is_settled() -> None:
    result = _result({"type": "transcript.final", "turn_id": 1}, {"type": "turn.timing", "turn_id": 1},
                     {"type": "transcript.final", "turn_id": 2}, {"type": "audio.clear", "turn_id": 2},
                     {"type": "transcript.final", "turn_id": 3})
    assert unsettled_turns(result) == {3}
    result.events.append({"type": "error", "turn_id": 3, "code": "tts-failed"})
    assert unsettled_turns(result) == set()


def test_settle_returns_at_its_deadline_when_a_reply_never_comes() -> None:
    result = _result({"type": "transcript.final", "turn_id": 1})
    pending = asyncio.run(settle(result, timeout=0.2, quiet_s=0.05))
    assert pending == {1}


def test_settle_returns_once_every_turn_is_settled_and_quiet() -> None:
    result = _result({"type": "transcript.final", "turn_id": 1}, {"type": "audio.clear", "turn_id": 1})
    assert asyncio.run(settle(result, timeout=30, quiet_s=0.05)) == set()
