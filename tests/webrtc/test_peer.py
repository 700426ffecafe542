"""The aiortc peer against a real aiortc caller on loopback, with a recording fake session (no
models): caller audio in, reply audio out (paced, flushed by AudioClear, turn ends reported as
played), camera frames sampled and JPEG-encoded, the shared screen sent only when it changed,
the data channel both ways with bad input answered by error events, and a clean close."""

from __future__ import annotations

import asyncio
import base64
import fractions
import io
import itertools
import json
import time
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from PIL import Image

from gateway.cli.webrtc_bench import SpeechTrack
from gateway.errors import GatewayError
from gateway.events import AudioClear, AudioFormat, ReplyAudio, ReplyAudioEnd, SessionEvent, TranscriptFinal
from gateway.inputs import (
    AudioIn,
    BargeInRequest,
    DtmfIn,
    ImageIn,
    Played,
    SessionInput,
    SignConfirm,
    TextIn,
    VideoFrameIn,
)
from gateway.ports import SessionRequest
from gateway.transports.webrtc import WebRtcPeers, WebRtcSettings, ice_hosts
from gateway.transports.webrtc_peer import WebRtcPeer

LOOPBACK = ("127.0.0.1",)


class FakeSession:
    session_id = "fake"
    request = SessionRequest("browser", AudioFormat("pcm16", 48000))

    def __init__(self) -> None:
        self.peer: WebRtcPeer | None = None  # events go back out through it, as the server does
        self.confirmations: list[bool] = []
        self.audio = bytearray()
        self.texts: list[str] = []
        self.images: list[bytes] = []
        self.frames: list[tuple[bytes, int]] = []
        self.played: list[int] = []
        self.barge_ins = 0

    def push(self, item: SessionInput) -> None:
        if isinstance(item, AudioIn):
            self.audio += item.payload
        elif isinstance(item, TextIn):
            self.texts.append(item.text)
        elif isinstance(item, DtmfIn):
            self.texts.append("dtmf:" + item.digit)
        elif isinstance(item, ImageIn):
            self.images.append(item.data)
        elif isinstance(item, VideoFrameIn):
            self.frames.append((item.data, item.media_time_ms))
        elif isinstance(item, BargeInRequest):
            self.barge_ins += 1
        elif isinstance(item, Played):
            self.played.append(item.turn_id)
        elif isinstance(item, SignConfirm):
            self.confirmations.append(item.yes)

    def emit_nowait(self, event: SessionEvent) -> None:
        if self.peer is not None:
            self.peer.take(event)

    async def events(self) -> AsyncIterator[SessionEvent]:
        return
        yield

    async def close(self, reason: str = "hangup") -> None:
        return None


class PictureTrack(MediaStreamTrack):
    """A camera or screen at `fps` showing `self.colour` (changeable while running)."""

    kind = "video"

    def __init__(self, fps: int, size: tuple[int, int]) -> None:
        super().__init__()
        self.fps, self.size, self.colour = fps, size, (40, 90, 160)
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self.sent / self.fps - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        image = Image.new("RGB", self.size, self.colour)
        frame = av.VideoFrame.from_image(image)
        frame.pts = self.sent * 90000 // self.fps
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


async def connect(peers: WebRtcPeers, session: FakeSession, *tracks: MediaStreamTrack,
                  audio: bool = True,
                  ) -> tuple[RTCPeerConnection, WebRtcPeer, tuple[RTCDataChannel, list[MediaStreamTrack]]]:
    pc = RTCPeerConnection(WebRtcSettings().rtc_configuration())
    if audio:
        pc.addTrack(SpeechTrack())
    for track in tracks:
        pc.addTrack(track)
    channel = pc.createDataChannel("events")
    inbound: list[MediaStreamTrack] = []
    pc.on("track", inbound.append)
    with ice_hosts(LOOPBACK):
        await pc.setLocalDescription(await pc.createOffer())
    peer = peers.create(session)
    answer = await peer.answer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    for _ in range(100):
        if channel.readyState == "open" and peer.state == "connected":
            break
        await asyncio.sleep(0.05)
    assert peer.state == "connected" and channel.readyState == "open"
    return pc, peer, (channel, inbound)


def tone(seconds: float, rate: int = 48000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16).tobytes()


async def heard_audible(track: MediaStreamTrack, seconds: float) -> float:
    """Seconds of audible audio decoded from the inbound track over `seconds` of listening."""
    audible = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frame = await asyncio.wait_for(track.recv(), timeout=2)
        assert isinstance(frame, av.AudioFrame)  # an audio track decodes to audio frames
        pcm = frame.to_ndarray().astype(np.float64)
        if np.sqrt(np.mean(pcm ** 2)) > 500:
            audible += frame.samples / frame.sample_rate
    return audible


@pytest.fixture
def peers() -> WebRtcPeers:
    return WebRtcPeers(WebRtcSettings(host_addresses=LOOPBACK, sign_fps=10, screen_interval_s=0.5))


async def test_audio_both_ways_clear_and_played(peers):
    session = FakeSession()
    pc, peer, (_, inbound) = await connect(peers, session)
    try:
        await asyncio.sleep(1.0)
        # Caller audio arrives resampled once to pcm16 mono 48 kHz, about real time.
        assert 48000 * 2 * 0.5 <= len(session.audio) <= 48000 * 2 * 2.0
        assert len(session.audio) % 2 == 0
        reply = tone(1.0)
        for i in range(0, len(reply), 1920):
            assert peer.take(ReplyAudio(1, reply[i:i + 1920], i // 1920)) is True
        assert peer.take(ReplyAudioEnd(1)) is False  # the page hears about the end too
        audible = await heard_audible(inbound[0], 2.0)
        assert 0.7 <= audible <= 1.3, audible
        assert session.played == [1]
        # Barge-in: AudioClear drops what is still queued (and is not consumed).
        long = tone(5.0)
        for i in range(0, len(long), 1920):
            peer.take(ReplyAudio(2, long[i:i + 1920], i // 1920))
        await asyncio.sleep(0.3)
        assert peer.take(AudioClear(2, 0)) is False
        assert peer.buffer.size == 0
        assert await heard_audible(inbound[0], 1.5) < 0.6
        assert peer.take(TranscriptFinal(3, "hi", "en", "text")) is False
    finally:
        await pc.close()
        await peer.aclose()
    assert not peers.live and peer.track.readyState == "ended"


async def test_camera_is_sampled_and_screen_sent_when_changed(peers):
    session = FakeSession()
    camera, screen = PictureTrack(30, (640, 480)), PictureTrack(10, (1280, 720))
    pc, peer, _ = await connect(peers, session, camera, screen)
    try:
        await asyncio.sleep(2.5)
        screen.colour = (250, 250, 250)
        await asyncio.sleep(2.0)
    finally:
        await pc.close()
        await peer.aclose()
    frames = session.frames
    seconds = camera.sent / 30
    assert peer.frames_in >= camera.sent * 0.6
    assert 0.5 * 10 * seconds <= len(frames) <= 10 * seconds + 2  # 10 fps of media time, not 30
    times = [t for _, t in frames]
    assert times == sorted(times) and all(b - a >= 99 for a, b in itertools.pairwise(times))
    with Image.open(io.BytesIO(frames[-1][0])) as jpeg:
        assert jpeg.format == "JPEG" and max(jpeg.size) <= 640
    # The shared screen: once at first, once after it changed; never for an unchanged screen.
    assert len(session.images) == 2
    with Image.open(io.BytesIO(session.images[1])) as png:
        assert png.format == "PNG" and png.size == (1280, 720)


async def test_data_channel_inputs_and_errors(peers):
    session = FakeSession()
    pc, peer, (channel, _) = await connect(peers, session)
    session.peer = peer
    replies: list[dict] = []
    channel.on("message", lambda m: replies.append(json.loads(m)))
    try:
        channel.send("this is not json")
        channel.send(b"\x00\x01binary")
        channel.send(json.dumps({"type": "session.end"}))
        channel.send(json.dumps({"type": "text", "text": ""}))
        channel.send(json.dumps({"type": "screen.capture"}))
        channel.send(json.dumps({"type": "text", "text": "where is my order?"}))
        channel.send(json.dumps({"type": "barge_in"}))
        channel.send(json.dumps({"type": "dtmf", "digit": "5"}))
        channel.send(json.dumps({"type": "image", "mime": "image/png",
                                 "data": base64.b64encode(b"\x89PNG tiny").decode()}))
        for _ in range(60):
            if len(replies) >= 5 and session.barge_ins:
                break
            await asyncio.sleep(0.05)
        peer.take(TranscriptFinal(1, "where is my order?", "en", "text"))
        await asyncio.sleep(0.3)
    finally:
        await pc.close()
        await peer.aclose()
    codes = [r["code"] for r in replies if r["type"] == "error"]
    assert codes == ["protocol-bad-json", "protocol-bad-json", "protocol-forbidden", "protocol-bad-field",
                     "webrtc-no-screen"]
    assert session.texts == ["where is my order?", "dtmf:5"] and session.barge_ins == 1
    assert session.images == [b"\x89PNG tiny"]
    assert {"type": "transcript.final", "turn_id": 1, "text": "where is my order?", "language": "en",
            "modality": "text"} in replies  # session events also go out on the channel


async def test_bad_offers(peers):
    session = FakeSession()
    for sdp, code in (("v=0\r\nnonsense", "webrtc-bad-offer"), ("x" * 300, "webrtc-bad-offer")):
        peer = peers.create(session)
        with pytest.raises(GatewayError) as err:
            await peer.answer(sdp)
        assert err.value.code == code
        await peer.aclose()
    # An offer with video and a data channel but no microphone.
    pc = RTCPeerConnection(WebRtcSettings().rtc_configuration())
    pc.addTrack(PictureTrack(5, (320, 240)))
    pc.createDataChannel("events")
    with ice_hosts(LOOPBACK):
        await pc.setLocalDescription(await pc.createOffer())
    peer = peers.create(session)
    with pytest.raises(GatewayError) as err:
        await peer.answer(pc.localDescription.sdp)
    assert err.value.code == "webrtc-no-audio"
    await peer.aclose()
    await pc.close()
    assert not peers.live


async def test_peer_limit(peers):
    small = WebRtcPeers(WebRtcSettings(host_addresses=LOOPBACK, max_peers=1))
    first = small.create(FakeSession())
    with pytest.raises(GatewayError) as err:
        small.create(FakeSession())
    assert err.value.code == "webrtc-busy"
    await first.aclose()
    await small.create(FakeSession()).aclose()
