"""The OpenAI-compatible backend against a stand-in server over real HTTP (a thread, real sockets)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from gateway.core.api import ReplyClause
from gateway.core.build import Core, build_core
from gateway.core.settings import CoreSettings
from gateway.errors import BackendError
from models.base import ChatMessage
from models.llm_openai import OpenAICompatibleModel
from tests.core.conftest import say

ANSWER = ["You have ", "30 days ", "from delivery ", "to return an item. ", "It must be ", "unused."]


class StandIn(BaseHTTPRequestHandler):
    mode = "ok"  # "ok" | "slow-first" | "die" | "http-500" | "stall"
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandIn.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.mode == "http-500":
            self.send_response(500)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if self.mode == "slow-first":
            time.sleep(1.5)
        # The client gives up on a slow answer in the timeout tests: a broken pipe is expected.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._events()

    def _events(self) -> None:
        for i, piece in enumerate(ANSWER):
            if self.mode == "die" and i == 3:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # the server dies mid-stream
                return
            if self.mode == "stall" and i == 2:
                time.sleep(3.0)
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.01)
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server() -> Iterator[str]:
    StandIn.mode, StandIn.requests = "ok", []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_streams_pieces_with_key(server: str) -> None:
    model = OpenAICompatibleModel(url=server, model="m", api_key="sk-test")
    pieces = list(model.stream([ChatMessage("user", "hi")], max_tokens=32, temperature=0.0))
    model.close()
    assert pieces == ANSWER
    assert StandIn.requests[0]["auth"] == "Bearer sk-test" and StandIn.requests[0]["body"]["stream"] is True


@pytest.mark.parametrize(("mode", "code"), [("die", "llm-"), ("http-500", "llm-http-error")])
def test_failures_are_backend_errors(server: str, mode: str, code: str) -> None:
    StandIn.mode = mode
    model = OpenAICompatibleModel(url=server, model="m")
    with pytest.raises(BackendError) as info:
        list(model.stream([ChatMessage("user", "hi")], max_tokens=32, temperature=0.0))
    model.close()
    assert info.value.code.startswith(code)


def test_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    model = OpenAICompatibleModel(url=f"http://127.0.0.1:{port}/v1", model="m", connect_timeout=0.5)
    with pytest.raises(BackendError) as info:
        list(model.stream([ChatMessage("user", "hi")], max_tokens=8, temperature=0.0))
    assert info.value.code == "llm-unreachable"


def _core(server: str, kb_db: object, first_token_s: float = 2.0, timeout_s: float = 4.0) -> Core:
    settings = CoreSettings(
        db_path=str(kb_db),
        records_path=":memory:",
        embeddings=False,
        backend="openai",
        openai_url=server,
        openai_model="m",
        feedback=False,
    )
    return build_core(dataclasses.replace(settings, llm_first_token_s=first_token_s, llm_timeout_s=timeout_s))


async def _ask(core: Core) -> list[ReplyClause]:
    conv = core.open_conversation(session_id="s", channel="t", language="en", tenant="")
    events = await say(conv, "How long do I have to return an item?", "en")
    await core.aclose()
    return [e for e in events if isinstance(e, ReplyClause)]


async def test_llm_answer_streams_clause_by_clause(server: str, kb_db: object) -> None:
    clauses = await _ask(_core(server, kb_db))
    assert [c.text for c in clauses] == [
        "You have 30 days from delivery to return an item.",
        "It must be unused.",
    ]
    assert clauses[-1].final and not clauses[0].final and all(c.sources for c in clauses)
    prompt = StandIn.requests[0]["body"]["messages"][0]["content"]
    assert "30 days" in prompt  # the retrieved passage reached the model


async def test_server_dying_mid_stream_falls_back(server: str, kb_db: object) -> None:
    StandIn.mode = "die"
    clauses = await _ask(_core(server, kb_db))
    text = " ".join(c.text for c in clauses)
    assert "30 days" in text and clauses[-1].final and sum(c.final for c in clauses) == 1


async def test_slow_first_token_falls_back(server: str, kb_db: object) -> None:
    StandIn.mode = "slow-first"
    start = time.monotonic()
    clauses = await _ask(_core(server, kb_db, first_token_s=0.3, timeout_s=1.0))
    assert time.monotonic() - start < 1.4
    assert "30 days" in " ".join(c.text for c in clauses) and clauses[-1].final


async def test_stall_mid_answer_keeps_a_final_clause(server: str, kb_db: object) -> None:
    StandIn.mode = "stall"
    clauses = await _ask(_core(server, kb_db, first_token_s=0.5, timeout_s=1.0))
    assert clauses and clauses[-1].final and "30 days" in " ".join(c.text for c in clauses)
