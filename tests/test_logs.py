"""Structured logs: session events with their ids as fields, JSON lines, and no caller content."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from gateway.logs import JsonFormatter, log_event
from gateway.security import RedactingFilter
from tests.conftest import GatewayThread, make_settings


def test_an_event_is_readable_text_and_a_json_object(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("gateway.test")
    with caplog.at_level(logging.INFO, logger="gateway.test"):
        log_event(logger, "session.ended", session_id="s1", reason="hangup", turns=3, tenant=None)
    record = caplog.records[-1]
    assert record.getMessage() == "session.ended session_id=s1 reason=hangup turns=3"
    line = json.loads(JsonFormatter().format(record))
    assert {k: line[k] for k in ("level", "logger", "event", "session_id", "reason", "turns")} == {
        "level": "info", "logger": "gateway.test", "event": "session.ended", "session_id": "s1",
        "reason": "hangup", "turns": 3}
    assert line["at"].endswith("Z")


def test_a_redacted_exception_stays_redacted_in_json() -> None:
    try:
        raise RuntimeError("token=supersecretvalue123")
    except RuntimeError:
        record = logging.LogRecord("gateway", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(["supersecretvalue123"]).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "RuntimeError" in line["exception"] and "supersecretvalue123" not in line["exception"]


@pytest.mark.e2e
async def test_a_session_logs_its_events_with_ids_and_no_caller_words(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()
    try:
        async with connect(gw.url) as ws:
            await ws.send(json.dumps({"type": "session.start", "channel": "kiosk", "language": "en"}))
            sid = (await next_of(ws, "session.started"))["session_id"]
            await ws.send(json.dumps({"type": "text",
                                      "text": "My card is 4111 1111 1111 1111, where is my refund?"}))
            await next_of(ws, "turn.timing", wait=60)
            await ws.send(json.dumps({"type": "dtmf", "digit": "x"}))
            await next_of(ws, "error")
            await ws.send(json.dumps({"type": "session.end"}))
            await next_of(ws, "session.ended")
    finally:
        gw.stop()
    events = [r for r in caplog.records if getattr(r, "event", None)]
    ours = [r for r in events if getattr(r, "fields", {}).get("session_id") == sid]
    assert [r.event for r in ours] == ["session.started", "turn", "session.error", "session.ended"]  # type: ignore[attr-defined]
    turn = ours[1].fields  # type: ignore[attr-defined]
    assert turn["turn_id"] == 1 and turn["speaker"] == "bot" and turn["core_first_ms"] >= 0
    assert ours[2].fields["code"] == "protocol-bad-field"  # type: ignore[attr-defined]
    assert ours[3].fields["reason"] == "caller-ended" and ours[3].fields["turns"] == 1  # type: ignore[attr-defined]
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for words in ("4111", "refund", "card"):
        assert words not in everything
