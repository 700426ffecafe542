"""Bad input against a real gateway with its WebRTC transport: malformed SDP, an offer without
audio, a second offer, non-JSON on the data channel, a media peer that vanishes, a caller that
vanishes. Each gets a clear error event (or a clean end) and the server stays up."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from gateway.cli.webrtc_bench import WebRtcCaller
from gateway.client import GatewayClient
from gateway.events import AudioFormat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FMT = AudioFormat("pcm16", 48000)


def healthy(http: str) -> bool:
    with urllib.request.urlopen(http + "/health", timeout=5) as response:
        return json.load(response)["status"] == "ok"


async def test_bad_offers_get_error_events_and_the_session_goes_on(webrtc_gateway):
    async with GatewayClient(webrtc_gateway.url, audio=FMT, language="en", channel="browser") as client:
        await client.send_json({"type": "webrtc.offer", "sdp": "v=0\r\nthis is not sdp"})
        bad = await client.wait_for("error", timeout=10)
        assert bad["code"] == "webrtc-bad-offer" and not bad["fatal"]
        no_audio = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n")
        await client.send_json({"type": "webrtc.offer", "sdp": no_audio})
        err = await client.wait_for("error", timeout=10, count=2)
        assert err["code"] == "webrtc-no-audio"
        await client.send_text("How long do I have to return an item?")
        await client.wait_for("reply.text", timeout=60)
    assert not webrtc_gateway.media.live and healthy(webrtc_gateway.http)


async def test_second_offer_and_bad_channel_messages(webrtc_gateway):
    async with WebRtcCaller(webrtc_gateway.url) as caller:
        await caller.ws.send_json({"type": "webrtc.offer", "sdp": caller.pc.localDescription.sdp})
        err = await caller.ws.wait_for("error", timeout=10)
        assert err["code"] == "webrtc-bad-offer"
        for _ in range(100):
            if caller.channel.readyState == "open":
                break
            await asyncio.sleep(0.05)
        caller.channel.send("{not json")
        caller.channel.send(json.dumps({"type": "text", "text": "When will my order arrive?"}))
        await caller.ws.wait_for("reply.text", timeout=60)

        def typed_turn_seen() -> bool:
            return any(r.get("type") == "transcript.final" and r.get("modality") == "text"
                       for r in (json.loads(m) for m in caller.channel_messages))

        # The data channel is its own path (SCTP): its copy may land after the WebSocket's reply.
        for _ in range(100):
            if typed_turn_seen():
                break
            await asyncio.sleep(0.05)
        replies = [json.loads(m) for m in caller.channel_messages]
        assert any(r.get("type") == "error" and r.get("code") == "protocol-bad-json" for r in replies)
        assert typed_turn_seen()


async def test_vanishing_media_peer_and_caller(webrtc_gateway):
    caller = WebRtcCaller(webrtc_gateway.url)
    await caller.__aenter__()
    await asyncio.sleep(0.5)
    await caller.pc.close()  # the browser's media goes away, its WebSocket stays
    err = await caller.ws.wait_for("error", timeout=45)
    assert err["code"] == "webrtc-connection-failed" and not err["fatal"]
    await caller.ws.send_text("Where is my order?")  # the session still answers over the WebSocket
    await caller.ws.wait_for("reply.text", timeout=60)
    # Now the whole caller vanishes without session.end.
    assert caller.ws._ws is not None
    caller.ws._ws.transport.abort()
    await asyncio.gather(caller.ws._reader, return_exceptions=True)  # type: ignore[arg-type]
    for _ in range(100):
        if not webrtc_gateway.media.live and not webrtc_gateway.gateway.sessions:
            break
        await asyncio.sleep(0.1)
    assert not webrtc_gateway.media.live and not webrtc_gateway.gateway.sessions
    assert healthy(webrtc_gateway.http)
