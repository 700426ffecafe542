"""Issue 16, why `gateway serve` never exited: a session's `close()` waits for it to take an `End`
from its inbox. A session stuck in a handler (blocked on the full write queue of a dead store, a
hung engine) never takes it (an `End` pushed into a full inbox used to be dropped; it is now kept
aside, but a stuck session still never takes it); so close() waited forever, and with it the
WebSocket server's close (it waits for its handlers) and the whole shutdown. The gateway now
closes sessions first, with a bound, and cancels one that cannot finish (its end is still stored).
In-process (GatewayThread): the stuck handler and the full inbox are made directly on the
gateway's loop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from gateway.client import next_of
from gateway.inputs import Played
from gateway.store.transcripts import read_transcript
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()
    yield gw
    gw.stop()


async def test_a_session_whose_end_is_dropped_still_closes_at_shutdown(gateway: GatewayThread) -> None:
    gw = gateway.gateway
    assert gw is not None
    async with connect(gateway.url) as ws:
        await ws.send(json.dumps({"type": "session.start", "language": "en"}))
        session_id = str((await next_of(ws, "session.started"))["session_id"])
        await ws.send(json.dumps({"type": "text", "text": "When will my order arrive?"}))
        await next_of(ws, "turn.timing", wait=60)

        async def overloaded_then_shutdown() -> float:
            session = gw.sessions[session_id]

            async def stuck(item: object) -> None:  # a handler that never returns: a hung engine,
                await asyncio.sleep(3600)           # or (before the fix) a full store queue

            session._handle = stuck  # type: ignore[method-assign]
            session._inbox.put(Played(0))
            await asyncio.sleep(0.1)  # the session takes it and is stuck in its handler
            while session._inbox.put(Played(0)):  # meanwhile its inbox fills up, as under load
                pass
            started = time.monotonic()
            await gw.close_sessions(timeout_s=2.0)  # its End is never taken: the handler is stuck
            return time.monotonic() - started

        took = await asyncio.to_thread(gateway.call, overloaded_then_shutdown())
        assert session_id not in gw.sessions
        assert took < 30  # bounded (the idle timeout is 300 s)
    gateway.call(gw.store.flush())
    stored = read_transcript(gateway.settings.store.path, session_id)
    assert stored is not None and stored["end_reason"] is not None
    assert [t["text"] for t in stored["turns"] if t["speaker"] == "caller"] == ["When will my order arrive?"]
