from __future__ import annotations

import json
import logging

import pytest

from gateway.security import AuditLog, AuditRecord, Principal


async def test_audit_logs_and_sinks(caplog: pytest.LogCaptureFixture) -> None:
    stored: list[AuditRecord] = []

    async def sink(record: AuditRecord) -> None:
        stored.append(record)

    audit = AuditLog(sink)
    agent = Principal("alice", "tenant-a", "agent", "jwt")
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        entry = await audit.record(agent, "read-transcript", "s-42", "tenant-a", at=100.0)
    assert stored == [entry]
    assert entry == AuditRecord(100.0, "alice", "agent", "tenant-a", "read-transcript", "s-42")
    line = json.loads(caplog.records[-1].getMessage())
    assert line["subject"] == "alice" and line["session_id"] == "s-42" and line["action"] == "read-transcript"


async def test_unknown_action_refused() -> None:
    with pytest.raises(ValueError):
        await AuditLog().record(Principal("a", "t", "agent", "jwt"), "peek", "s", "t")
