"""`gateway bench webrtc`: reply latency over WebRTC and concurrent WebRTC calls on this machine.

A gateway runs in this process on loopback with its WebRTC transport; callers are aiortc peers in
the same process (signalling over the gateway WebSocket, Opus audio both ways, the data channel
open). Each caller speaks a sample question in real time and listens on its inbound track.
Printed: the gateway's own reply latency (turn.timing reply_latency_ms: end of caller speech to
first reply audio frame handed to the peer, as for the WebSocket), the latency heard by the caller
(last speech frame handed to its encoder -> first audible reply frame decoded), and the largest
number of simultaneous calls whose gateway reply latency p50 stays within the target. The callers'
own Opus encode/decode shares the 2 cores with the gateway, so the count is conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from gateway.app import Gateway
from gateway.cli.groups import CommandGroups
from gateway.client import CallResult, GatewayClient
from gateway.config import Settings, load_settings
from gateway.evaluation import percentile
from gateway.events import AudioFormat, SessionEvent
from gateway.inputs import SessionInput
from gateway.ports import SessionRequest
from gateway.transports.webrtc import WebRtcPeers, WebRtcSettings, ice_hosts
from gateway.transports.webrtc_media import PacedAudioTrack
from modalities.audio.files import read_audio
from modalities.audio.resample import resample

PROJECT = Path(__file__).resolve().parents[2]
QUESTIONS = (PROJECT / "samples" / "audio" / "en_question_returns.wav",
             PROJECT / "samples" / "audio" / "en_question_shipping.wav")
RATE = 48_000
FRAME = 960  # 20 ms at 48 kHz
AUDIBLE_RMS = 300.0  # int16 RMS of a reply frame that counts as speech (Opus silence is ~0)
MAX_HEARD_S = 60  # reply audio the caller keeps for checks


def load_speech(path: Path) -> npt.NDArray[np.int16]:
    audio, rate = read_audio(path, max_bytes=20_000_000, max_seconds=60)
    audio48 = resample(audio, rate, RATE) if rate != RATE else audio
    return np.clip(audio48 * 32767, -32768, 32767).astype(np.int16)


class SpeechTrack(PacedAudioTrack):
    """A microphone: speaks queued utterances in real time, silence otherwise."""

    def __init__(self) -> None:
        super().__init__(RATE)
        self._pcm = np.zeros(0, np.int16)
        self._pos = 0
        self.speech_end_at: float | None = None  # perf_counter when the last speech frame went out

    def say(self, pcm: npt.NDArray[np.int16]) -> None:
        self._pcm, self._pos, self.speech_end_at = pcm, 0, None

    def next_pcm(self) -> bytes:
        chunk = self._pcm[self._pos:self._pos + FRAME]
        if len(chunk) and self._pos + FRAME >= len(self._pcm):
            self.speech_end_at = time.perf_counter()
        self._pos += len(chunk)
        data = np.zeros(FRAME, np.int16)
        data[:len(chunk)] = chunk
        return data.astype("<i2").tobytes()


@dataclass
class Heard:
    frames: int = 0
    audible_frames: int = 0
    first_audible_at: float | None = None
    pcm: list[npt.NDArray[np.int16]] = field(default_factory=list)


class WebRtcCaller:
    """A browser-like caller: WebSocket for signalling and events, aiortc for the media."""

    def __init__(self, url: str, *, language: str = "en", channel: str = "browser",
                 hosts: tuple[str, ...] = ("127.0.0.1",), video: MediaStreamTrack | None = None,
                 screen: MediaStreamTrack | None = None) -> None:
        self.ws = GatewayClient(url, audio=AudioFormat("pcm16", RATE), language=language, channel=channel)
        self.mic = SpeechTrack()
        self.heard = Heard()
        self.hosts = hosts
        self.pc = RTCPeerConnection(WebRtcSettings().rtc_configuration())
        self.channel_messages: list[str] = []
        self._video = video
        self._screen = screen
        self._listener: asyncio.Task[None] | None = None

    @property
    def result(self) -> CallResult:
        return self.ws.result

    async def __aenter__(self) -> WebRtcCaller:
        await self.ws.__aenter__()
        self.pc.addTrack(self.mic)
        for track in (self._video, self._screen):
            if track is not None:
                self.pc.addTrack(track)
        # After the tracks, as the pages do: m-lines audio, camera, screen, then the data channel.
        self.channel = self.pc.createDataChannel("events")
        self.channel.on("message", self.channel_messages.append)
        self.pc.on("track", self._on_track)
        with ice_hosts(self.hosts):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.ws.send_json({"type": "webrtc.offer", "sdp": self.pc.localDescription.sdp})
        answer = await self.ws.wait_for("webrtc.answer", timeout=20)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.pc.close()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self.ws.end()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._listener = asyncio.ensure_future(self._listen(track))

    async def _listen(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        kept = 0
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1).astype(np.int16)
                    self.heard.frames += 1
                    if float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) >= AUDIBLE_RMS:
                        self.heard.audible_frames += 1
                        if self.heard.first_audible_at is None and self.mic.speech_end_at is not None:
                            self.heard.first_audible_at = time.perf_counter()
                    if kept < MAX_HEARD_S * RATE:
                        self.heard.pcm.append(pcm)
                        kept += len(pcm)

    async def ask(self, pcm: npt.NDArray[np.int16], *, timeout: float = 60.0) -> dict[str, object]:  # noqa: ASYNC109
        """Speaks one question and waits for its turn.timing (the reply has been voiced)."""
        self.heard.first_audible_at = None
        count = len(self.result.of("turn.timing"))
        self.mic.say(pcm)
        return await self.ws.wait_for("turn.timing", timeout=timeout, count=count + 1)

    def heard_latency_ms(self) -> float | None:
        if self.heard.first_audible_at is None or self.mic.speech_end_at is None:
            return None
        return (self.heard.first_audible_at - self.mic.speech_end_at) * 1000


@dataclass(frozen=True)
class LocalWebRtcGateway:
    gateway: Gateway
    media: WebRtcPeers
    url: str  # ws://127.0.0.1:PORT/ws
    http: str  # http://127.0.0.1:PORT (the pages: /call, /kiosk, /agent)


@contextlib.asynccontextmanager
async def webrtc_gateway(settings: Settings,
                         webrtc: WebRtcSettings | None = None) -> AsyncIterator[LocalWebRtcGateway]:
    """A whole gateway on a loopback port, its ICE candidates on loopback too."""
    from gateway.local import local_gateway

    webrtc = webrtc or dataclasses.replace(settings.webrtc, host_addresses=("127.0.0.1",))
    async with local_gateway(dataclasses.replace(settings, webrtc=webrtc)) as local:
        assert local.media is not None  # this module imports aiortc: the webrtc extra is there
        yield LocalWebRtcGateway(local.gateway, local.media, local.url, local.http)


# ---------------------------------------------------------------------- the bench


class _NullSession:
    """A SessionPort that drops every input: the transport's own cost, without models."""

    session_id = "media-cost"
    request = SessionRequest("browser", AudioFormat("pcm16", 48000))

    def push(self, item: SessionInput) -> None: ...
    def emit_nowait(self, event: SessionEvent) -> None: ...

    async def events(self) -> AsyncIterator[SessionEvent]:
        return
        yield

    async def close(self, reason: str = "hangup") -> None: ...


async def _media_cost(calls: int, seconds: float = 8.0) -> float:
    """CPU ms per call-second for `calls` calls with audio both ways (callers in this process)."""
    from gateway.events import ReplyAudio

    peers = WebRtcPeers(WebRtcSettings(host_addresses=("127.0.0.1",)))
    pairs = []
    for _ in range(calls):
        pc = RTCPeerConnection(WebRtcSettings().rtc_configuration())
        pc.addTrack(SpeechTrack())
        heard: list[MediaStreamTrack] = []
        pc.on("track", heard.append)
        with ice_hosts(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        peer = peers.create(_NullSession())
        answer = await peer.answer(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        pairs.append((pc, peer, heard))
    await asyncio.sleep(1.0)
    reply = (np.sin(np.arange(int(seconds * RATE)) * 0.06) * 8000).astype(np.int16).tobytes()
    drains = []
    for _, peer, heard in pairs:
        for i in range(0, len(reply), 2 * FRAME):
            peer.take(ReplyAudio(1, reply[i:i + 2 * FRAME], i))
        drains += [asyncio.ensure_future(_drain(t)) for t in heard]
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cost = (time.process_time() - cpu) / (time.perf_counter() - wall) / calls * 1000
    for task in drains:
        task.cancel()
    for pc, peer, _ in pairs:
        await pc.close()
        await peer.aclose()
    return cost


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("webrtc", help="reply latency over WebRTC; concurrent WebRTC calls")
    p.add_argument("--repeats", type=int, default=3, help="sequential calls per sample question")
    p.add_argument("--max-calls", type=int, default=12, help="largest concurrency level tried")
    p.add_argument("--target-ms", type=float, default=700.0, help="reply latency p50 target")
    p.add_argument("--budget-s", type=float, default=240.0, help="stop raising concurrency after this")
    p.add_argument("--media-only", action="store_true", help="only the transport's CPU cost (no models)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    settings = dataclasses.replace(settings, store=dataclasses.replace(
        settings.store, path=str(PROJECT / "var" / "bench-webrtc.sqlite3")))
    return asyncio.run(_bench(settings, args))


async def _one_call(url: str, pcm: npt.NDArray[np.int16],
                    delay_s: float) -> tuple[float | None, float | None]:
    await asyncio.sleep(delay_s)
    async with WebRtcCaller(url) as caller:
        await asyncio.sleep(0.5)  # ICE and DTLS settle before the caller speaks
        timing = await caller.ask(pcm)
        await asyncio.sleep(0.3)
        latency = timing.get("reply_latency_ms")
        return (float(latency) if isinstance(latency, (int, float)) else None), caller.heard_latency_ms()


async def _ws_call(url: str, path: Path, delay_s: float = 0.0) -> float | None:
    """The same question over the WebSocket protocol (the peer transport), paced in real time."""
    await asyncio.sleep(delay_s)
    audio, rate = read_audio(path, max_bytes=20_000_000, max_seconds=60)
    async with GatewayClient(url, audio=AudioFormat("pcm16", RATE), language="en") as client:
        await client.stream(audio, rate, realtime=True, trailing_silence_s=2.5)
        timing = await client.wait_for("turn.timing", timeout=60)
    latency = timing.get("reply_latency_ms")
    return float(latency) if isinstance(latency, (int, float)) else None


async def _bench(settings: Settings, args: argparse.Namespace) -> int:
    for n in (1, 4, 8):
        cost = await _media_cost(n)
        print(f"transport cost, {n} call(s) with audio both ways, caller and gateway peer in this "
              f"process: {cost:.0f} CPU ms per call-second (load average {os.getloadavg()[0]:.1f})")
    if args.media_only:
        return 0
    questions = [load_speech(path) for path in QUESTIONS]
    async with webrtc_gateway(settings) as local:
        url = local.url
        print(f"gateway on {url}; ASR {settings.speech.asr_model}; callers: aiortc in this process; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        await _one_call(url, questions[0], 0.0)  # warm-up: first-use model costs are not latency
        await _ws_call(url, QUESTIONS[0])
        gw: list[float] = []
        heard: list[float] = []
        ws: list[float] = []
        for i in range(args.repeats * len(questions)):  # interleaved, so both see the same load
            g, h = await _one_call(url, questions[i % len(questions)], 0.0)
            gw += [g] if g is not None else []
            heard += [h] if h is not None else []
            w = await _ws_call(url, QUESTIONS[i % len(QUESTIONS)])
            ws += [w] if w is not None else []
        single = percentile(gw, 50)
        print(f"one call at a time, n={len(gw)}: WebRTC gateway reply latency ms p50 {single:.0f} "
              f"p95 {percentile(gw, 95):.0f}; heard by the caller p50 {percentile(heard, 50):.0f} "
              f"p95 {percentile(heard, 95):.0f}")
        print(f"same questions over the WebSocket, n={len(ws)}: "
              f"reply latency ms p50 {percentile(ws, 50):.0f} "
              f"p95 {percentile(ws, 95):.0f}; ratio WebRTC/WebSocket p50 {single / percentile(ws, 50):.2f}")
        within_target = 1 if gw and single <= args.target_ms else 0
        within_relative = 1
        started = time.perf_counter()
        level = 2
        while level <= args.max_calls and time.perf_counter() - started < args.budget_s:
            # Callers start within one second of each other, so their turns overlap.
            calls = [_one_call(url, questions[i % len(questions)], i / level) for i in range(level)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            lat = [r[0] for r in results if isinstance(r, tuple) and r[0] is not None]
            hear = [r[1] for r in results if isinstance(r, tuple) and r[1] is not None]
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            print(f"{level:3d} concurrent calls: gateway reply latency ms p50 {p50:.0f} p95 {p95:.0f}; "
                  f"heard p50 {percentile(hear, 50):.0f}; answered {len(lat)}/{level}; failed {len(failed)}; "
                  f"load average {os.getloadavg()[0]:.1f}" + (f" ({failed[0]!r})" if failed else ""))
            # The same load over the WebSocket: what the WebRTC transport itself adds.
            ws_runs = await asyncio.gather(*[_ws_call(url, QUESTIONS[i % len(QUESTIONS)], i / level)
                                             for i in range(level)], return_exceptions=True)
            ws_lat = [r for r in ws_runs if isinstance(r, float)]
            ws50 = percentile(ws_lat, 50)
            print(f"    same over the WebSocket: p50 {ws50:.0f} p95 {percentile(ws_lat, 95):.0f}; "
                  f"answered {len(ws_lat)}/{level}; ratio WebRTC/WebSocket p50 {p50 / ws50:.2f}")
            answered = not failed and len(lat) == level
            if answered and p50 <= args.target_ms:
                within_target = level
            if not answered or not p50 <= 1.5 * single:
                break
            within_relative = level
            level += 2 if level < 8 else 4
        print(f"concurrent WebRTC calls sustained within p50 <= {args.target_ms:.0f} ms: {within_target}; "
              f"within 1.5x the single-call p50 ({1.5 * single:.0f} ms), all answered: {within_relative}")
    return 0
