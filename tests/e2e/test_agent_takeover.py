"""A caller asks for a person; an agent connection takes the call over, sees the context and the
live transcript, speaks to the caller, and gives the call back to the bot. Real sockets."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from gateway.client import GatewayClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Agent:
    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []

    async def send(self, **message):
        await self.ws.send(json.dumps(message))

    async def expect(self, kind: str, wait: float = 30, where=lambda m: True) -> dict:
        async with asyncio.timeout(wait):
            while True:
                message = json.loads(await self.ws.recv())
                self.seen.append(message)
                if message["type"] == kind and where(message):
                    return message


async def agent(url: str, tenant: str = "default") -> Agent:
    ws = await connect(url)
    await ws.send(json.dumps({"type": "session.start", "role": "agent", "tenant": tenant}))
    a = Agent(ws)
    await a.expect("agent.ready")
    return a


async def test_agent_takes_over_speaks_and_releases(live_gateway):
    async with GatewayClient(live_gateway.url, language="en") as caller:
        await caller.send_text("I want to talk to a person please.")
        handoff = await caller.wait_for("handoff", timeout=60)
        assert handoff["reason"] == "caller-request" and not handoff["urgent"]
        await caller.wait_for("turn.timing", timeout=60)

        outsider = await agent(live_gateway.url, tenant="another-shop")
        assert (await outsider.expect("agent.queue"))["waiting"] == []
        await outsider.send(type="agent.take", session_id=caller.result.session_id)
        assert (await outsider.expect("error"))["code"] == "agent-nothing-waiting"
        await outsider.ws.close()

        a = await agent(live_gateway.url)
        queue = await a.expect("agent.queue")
        assert caller.result.session_id in [w["session_id"] for w in queue["waiting"]]
        await a.send(type="agent.take")
        taken = await a.expect("agent.session")
        assert taken["session_id"] == caller.result.session_id
        assert taken["package"] and taken["transcript"][0]["text"] == "I want to talk to a person please."

        await caller.send_text("Hello, is anyone there?")
        await a.expect("agent.event", where=lambda m: m["event"]["type"] == "transcript.final")
        await a.send(type="agent.say", text="Hi, this is Anna from customer care. How can I help?")
        said = await caller.wait_for("reply.text", timeout=60,
                                     where={"text": "Hi, this is Anna from customer care. How can I help?"})
        await caller.wait_for("reply.audio.end", timeout=60, where={"turn_id": said["turn_id"]})
        # the bot stayed silent on the caller's turn while the person owned the call
        hello_turn = caller.result.of("transcript.final")[1]["turn_id"]
        assert not [r for r in caller.result.of("reply.text") if r["turn_id"] == hello_turn]

        await a.send(type="agent.release")
        await a.expect("agent.queue")
        await caller.send_text("What are your shipping options?")
        final = await caller.wait_for("transcript.final", timeout=60, count=3)
        await caller.wait_for("turn.timing", timeout=60, where={"turn_id": final["turn_id"]})
        assert caller.result.replies()[final["turn_id"]]
        await a.ws.close()
    live_gateway.call(live_gateway.gateway.store.flush())
    from gateway.store.transcripts import read_transcript

    stored = read_transcript(live_gateway.settings.store.path, caller.result.session_id)
    assert stored is not None
    assert "agent" in [t["speaker"] for t in stored["turns"]]
