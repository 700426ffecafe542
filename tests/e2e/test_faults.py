"""Faults during a live call, on real servers: the LLM (an OpenAI-compatible stand-in over real
HTTP), Redis (the cluster registry) and PostgreSQL (the transcript store) are killed in turn while
one WebSocket session goes on talking. Every turn is answered (grounded fallback while the LLM is
down), recovery is automatic once each comes back, and the stored transcript holds every turn."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.client import next_of
from gateway.errors import GatewayError
from gateway.store.postgres import PostgresStore
from tests.cluster.conftest import RedisServer
from tests.conftest import GatewayThread, make_settings
from tests.core.test_openai_backend import StandIn
from tests.store.pg_server import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTIONS = [
    "How long do I have to return an item?",  # LLM up
    "When will I get my refund?",  # LLM down: grounded fallback
    "How much does express shipping cost?",  # Redis down too
    "Can I pay with a gift card?",  # PostgreSQL down too
    "How do I start a return?",  # everything back
]


class LlmServer:
    """The stand-in LLM on a fixed port, so it can die and come back where the gateway expects it."""

    def __init__(self) -> None:
        StandIn.mode, StandIn.requests = "ok", []
        self.httpd: ThreadingHTTPServer | None = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
        self.port = self.httpd.server_address[1]
        self._serve()

    def _serve(self) -> None:
        assert self.httpd is not None
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def kill(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def restart(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), StandIn)
        self._serve()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[PostgresServer, RedisServer, LlmServer]]:
    postgres, redis = PostgresServer(), RedisServer()
    postgres.start()
    redis.start()
    llm = LlmServer()
    yield postgres, redis, llm
    llm.kill()
    redis.destroy()
    postgres.destroy()


async def ask(ws: ClientConnection, text: str) -> str:
    """One typed turn; the reply text once its turn.timing arrives."""
    await ws.send(json.dumps({"type": "text", "text": text}))
    seen: list[dict[str, Any]] = []
    await next_of(ws, "turn.timing", wait=60, seen=seen)
    return " ".join(m["text"] for m in seen if m["type"] == "reply.text")


async def test_llm_redis_and_postgres_die_during_a_call(servers, tmp_path: Path) -> None:
    postgres, redis, llm = servers
    base = make_settings(tmp_path)
    settings = dataclasses.replace(
        base,
        core=dataclasses.replace(base.core, backend="openai", openai_url=f"http://127.0.0.1:{llm.port}/v1",
                                 openai_model="stand-in", llm_timeout_s=3.0, llm_first_token_s=1.0),
        durable=dataclasses.replace(base.durable, backend="postgres", dsn=postgres.dsn,
                                    journal_path=str(tmp_path / "journal.jsonl"), connect_timeout_s=1.0,
                                    write_timeout_s=1.0),
        cluster=dataclasses.replace(base.cluster, backend="redis", redis_url=redis.url, heartbeat_s=0.5,
                                    ttl_s=2.0, timeout_s=0.5))
    gw = GatewayThread(settings, preload=False).start()
    try:
        gateway = gw.gateway
        assert gateway is not None
        replies = []
        async with connect(gw.url) as ws:
            start = {"type": "session.start", "audio": {"sample_rate": 16000}, "language": "en"}
            await ws.send(json.dumps(start))
            session_id = json.loads(await ws.recv())["session_id"]
            replies.append(await ask(ws, QUESTIONS[0]))
            assert "30 days" in replies[0] and len(StandIn.requests) == 1  # phrased by the LLM

            llm.kill()
            replies.append(await ask(ws, QUESTIONS[1]))
            redis.kill()
            replies.append(await ask(ws, QUESTIONS[2]))
            postgres.stop("immediate")
            postgres.wait_down()
            replies.append(await ask(ws, QUESTIONS[3]))

            postgres.start()
            redis.start()
            llm.restart()
            asked_before = len(StandIn.requests)
            replies.append(await ask(ws, QUESTIONS[4]))
            assert len(StandIn.requests) == asked_before + 1  # the LLM is used again, unprompted
            # The registry repairs itself: the emptied Redis learns the live session again.
            location = None
            for _ in range(40):
                location = gw.call(gateway.cluster.locate(session_id))
                if location is not None:
                    break
                await asyncio.sleep(0.25)
            assert location is not None and location.node == gateway.cluster.node_id
            await ws.send(json.dumps({"type": "session.end"}))
        assert all(replies), replies  # nobody was left in silence
        assert "business days" in replies[1]  # the grounded answer while the LLM was down
        for _ in range(40):  # the journal drains into the restarted PostgreSQL
            try:
                gw.call(gateway.store.flush())
                break
            except GatewayError:
                await asyncio.sleep(0.25)
        store = PostgresStore(postgres.dsn)
        try:
            stored = await store.read_transcript(session_id)
        finally:
            await store.aclose()
        assert stored is not None and stored["end_reason"] is not None
        said = [t["text"] for t in stored["turns"] if t["speaker"] == "caller"]
        assert said == QUESTIONS  # nothing already said was lost
        assert len([t for t in stored["turns"] if t["speaker"] == "bot"]) == len(QUESTIONS)
    finally:
        gw.stop()
