"""session.start and numeric fields are strict: present means valid (issue 16, failure 9)."""

from __future__ import annotations

import json

import pytest

from gateway.errors import GatewayError
from gateway.events import TranscriptFinal
from gateway.inputs import Played, TextIn
from gateway.protocol.ws_v1 import MAX_TURN_ID, AgentTake, ServerProtocol, Start


def start(**fields: object) -> Start:
    p = ServerProtocol(max_binary_bytes=1 << 20)
    item = p.receive_text(json.dumps({"type": "session.start", **fields}))
    assert isinstance(item, Start)
    return item


def refused(fields: dict[str, object]) -> str:
    with pytest.raises(GatewayError) as err:
        start(**fields)
    return err.value.code


@pytest.mark.parametrize("fields", [
    {"v": 1.0}, {"v": True}, {"v": "1"}, {"language": None}, {"channel": None}, {"role": None},
    {"audio": {}}, {"audio": None}, {"audio": {"encoding": "pcm16"}}, {"audio": {"sample_rate": 16000.0}},
    {"tenant": "../../x"}, {"tenant": None}, {"tenant": ""}, {"session_id": "../../x"},
    {"session_id": None}, {"session_id": "13812345678"}, {"tenant": "4111111111111111"},
])
def test_sloppy_start_fields_are_refused(fields: dict[str, object]) -> None:
    assert refused(fields) in ("protocol-bad-field", "protocol-version")


def test_absent_fields_still_default() -> None:
    s = start()
    assert (s.language, s.channel, s.role, s.tenant, s.session_id) == ("auto", "websocket", "caller",
                                                                       "default", None)
    assert start(audio={"sample_rate": 8000}).audio.encoding == "pcm16"
    assert start(v=1, session_id="call-0001").session_id == "call-0001"


def started(role: str = "caller") -> ServerProtocol:
    p = ServerProtocol(max_binary_bytes=1 << 20)
    p.receive_text(json.dumps({"type": "session.start", "role": role}))
    return p


@pytest.mark.parametrize("message", [
    {"type": "played", "turn_id": -1}, {"type": "played", "turn_id": 10**30},
    {"type": "played", "turn_id": MAX_TURN_ID + 1}, {"type": "video.frame", "t_ms": 10**15, "data": "AAAA"},
    {"type": "video.frame", "t_ms": -1, "data": "AAAA"},
])
def test_numbers_out_of_range(message: dict[str, object]) -> None:
    with pytest.raises(GatewayError) as err:
        started().receive_text(json.dumps(message))
    assert err.value.code == "protocol-bad-field"


def test_numbers_in_range() -> None:
    item = started().receive_text(json.dumps({"type": "played", "turn_id": MAX_TURN_ID}))
    assert item == Played(MAX_TURN_ID)


def test_agent_take_of_a_bad_id_is_refused() -> None:
    agent = started("agent")
    assert agent.receive_text(json.dumps({"type": "agent.take", "session_id": "s-1"})) == AgentTake("s-1")
    with pytest.raises(GatewayError):
        agent.receive_text(json.dumps({"type": "agent.take", "session_id": "../../x"}))


def test_a_lone_surrogate_in_and_out() -> None:
    p = started()
    item = p.receive_text('{"type": "text", "text": "hi \\ud800 there"}')
    assert item == TextIn("hi \ufffd there")
    frame = p.encode(TranscriptFinal(1, json.loads('"\\udc00 x"'), "en", "text"))
    assert isinstance(frame, str)
    frame.encode("utf-8")
    assert json.loads(frame)["text"] == "\ufffd x"


def test_deep_nesting_is_bad_json() -> None:
    with pytest.raises(GatewayError) as err:
        started().receive_text('{"type": "text", "text": "x", "a": ' + "[" * 100 + "]" * 100 + "}")
    assert err.value.code == "protocol-bad-json"
