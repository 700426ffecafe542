"""WebRTC media beside a WebSocket session: one aiortc peer per session (a MediaPeer).

The WebSocket carries signalling (`webrtc.offer` -> `webrtc.answer`) and the session's events;
the peer carries the media. Caller audio (Opus, decoded by aiortc at 48 kHz) is resampled once to
the session's pcm16 rate and pushed into the session; the reply goes out on an outbound audio
track that paces 20 ms frames from a bounded buffer (silence when empty). The first video m-line
is the camera (sampled in media time at the sign rate, newest frame only, JPEG), the second the
screen share (a PNG screenshot when the screen changed, or on request). A data channel "events"
carries the same JSON as the WebSocket, both ways.

aiortc's receivers queue decoded frames without bound, so every remote track is drained as fast as
it arrives and only the newest frame is kept for work done in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import io
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import av
import numpy as np
import numpy.typing as npt
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from gateway.errors import ConfigError, GatewayError, LimitExceeded, ProtocolError
from gateway.events import AudioClear, AudioFormat, ErrorEvent, ReplyAudio, ReplyAudioEnd, SessionEvent
from gateway.inputs import BargeInRequest, DtmfIn, ImageIn, Played, SignConfirm, TextIn
from gateway.ports import SessionPort, SessionRequest
from gateway.protocol.ws_v1 import ServerProtocol, to_json

log = logging.getLogger("gateway.webrtc")

FRAME_MS = 20
DEFAULT_AUDIO = AudioFormat("pcm16", 48000)
# Caller messages the data channel accepts (signalling and hang-up stay on the WebSocket).
CHANNEL_TYPES = frozenset({"text", "image", "sign.confirm", "barge_in", "dtmf", "played", "screen.capture"})
MAX_CHANNEL_MESSAGE = 262_144  # aiortc's own SCTP message limit
THUMB = (32, 18)  # screen-change detection works on a tiny grey thumbnail

_HOSTS: ContextVar[tuple[str, ...]] = ContextVar("gateway_webrtc_hosts", default=())


@dataclass(frozen=True)
class WebRtcSettings:
    ice_servers: tuple[str, ...] = ()  # "stun:host:3478", "turn:host:3478"; none: no outside contact
    ice_username: str = ""  # for TURN servers
    ice_credential: str = ""
    host_addresses: tuple[str, ...] = ()  # ICE host candidates; (): every interface but loopback
    max_peers: int = 50
    sign_fps: float = 15.0  # camera frames per second of media time sent to sign recognition
    video_max_side: int = 640  # camera frames are scaled down to this before JPEG encoding
    jpeg_quality: int = 80
    screen_interval_s: float = 3.0  # media time between checks of the shared screen for changes
    screen_change: float = 6.0  # mean grey difference (0-255) of a 32x18 thumbnail = a new screen
    reply_buffer_s: float = 120.0  # reply audio waiting for the outbound track; beyond it is dropped
    answer_timeout_s: float = 10.0
    max_channel_buffer: int = 1_000_000  # bytes queued on the data channel before events are skipped

    def validate(self) -> None:
        problems = []
        for url in self.ice_servers:
            if not url.startswith(("stun:", "turn:", "turns:")):
                problems.append(f"ice server {url!r} must start with stun:, turn: or turns:")
        if not 1 <= self.max_peers <= 10_000:
            problems.append(f"max_peers must be 1..10000, got {self.max_peers}")
        if not 1.0 <= self.sign_fps <= 60.0:
            problems.append(f"sign_fps must be 1..60, got {self.sign_fps}")
        if not 64 <= self.video_max_side <= 1920:
            problems.append(f"video_max_side must be 64..1920, got {self.video_max_side}")
        if not 10 <= self.jpeg_quality <= 95:
            problems.append(f"jpeg_quality must be 10..95, got {self.jpeg_quality}")
        if not 0.5 <= self.screen_interval_s <= 60:
            problems.append(f"screen_interval_s must be 0.5..60, got {self.screen_interval_s}")
        if not 1.0 <= self.reply_buffer_s <= 600:
            problems.append(f"reply_buffer_s must be 1..600, got {self.reply_buffer_s}")
        if not 1.0 <= self.answer_timeout_s <= 60:
            problems.append(f"answer_timeout_s must be 1..60, got {self.answer_timeout_s}")
        if problems:
            raise ConfigError("webrtc settings: " + "; ".join(problems))

    def rtc_configuration(self) -> RTCConfiguration:
        # aiortc contacts a public STUN server unless told otherwise: an empty list means none.
        servers = [RTCIceServer(urls=url, username=self.ice_username or None,
                                credential=self.ice_credential or None) for url in self.ice_servers]
        # One transport for every m-line: one socket per call, and aiortc callers (bench, tests)
        # otherwise never start sending on a second video m-line.
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


@contextlib.contextmanager
def ice_hosts(hosts: tuple[str, ...]) -> Iterator[None]:
    """ICE candidates gathered inside this block use `hosts` (e.g. 127.0.0.1 for loopback tests).

    aioice has no option for its host addresses and never offers 127.0.0.1, so its lookup is
    wrapped once; the wrapper reads a ContextVar, so peers with different settings never mix."""
    import aioice.ice as ice

    original = ice.get_host_addresses
    if not getattr(original, "gateway_wrapped", False):
        def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            chosen = _HOSTS.get()
            return list(chosen) if chosen else original(use_ipv4, use_ipv6)

        get_host_addresses.gateway_wrapped = True  # type: ignore[attr-defined]
        ice.get_host_addresses = get_host_addresses
    token = _HOSTS.set(hosts)
    try:
        yield
    finally:
        _HOSTS.reset(token)


# ---------------------------------------------------------------------- pure pieces


def offer_kinds(sdp: str) -> list[str]:
    """The media kinds of an SDP offer in m-line order; GatewayError `webrtc-bad-offer` if unusable."""
    from aiortc.sdp import SessionDescription

    try:
        parsed = SessionDescription.parse(sdp)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise GatewayError(f"the SDP offer cannot be parsed: {exc!r}", code="webrtc-bad-offer") from None
    kinds = [m.kind for m in parsed.media]
    if not kinds:
        raise GatewayError("the SDP offer has no media section", code="webrtc-bad-offer")
    return kinds


class ReplyBuffer:
    """Reply audio waiting for the outbound track (pcm16 bytes) and end-of-turn marks, bounded:
    audio beyond `max_bytes` is dropped and counted, never queued."""

    def __init__(self, frame_bytes: int, max_bytes: int) -> None:
        self.frame_bytes = frame_bytes
        self.max_bytes = max_bytes
        self.size = 0
        self.dropped_bytes = 0
        self._items: deque[bytes | int] = deque(maxlen=max_bytes // 2 + 1000)  # int = turn end mark

    def push(self, audio: bytes) -> bool:
        if self.size + len(audio) > self.max_bytes:
            self.dropped_bytes += len(audio)
            return False
        self._items.append(audio)
        self.size += len(audio)
        return True

    def end(self, turn_id: int) -> None:
        self._items.append(turn_id)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def pull(self) -> tuple[bytes, bool, list[int]]:
        """The next frame (silence-padded), whether it holds reply audio, and the turns it finishes."""
        out = bytearray()
        ended: list[int] = []
        items = self._items
        while items and (len(out) < self.frame_bytes or isinstance(items[0], int)):
            head = items.popleft()
            if isinstance(head, int):
                ended.append(head)
                continue
            need = self.frame_bytes - len(out)
            if len(head) > need:
                items.appendleft(head[need:])
                head = head[:need]
            out += head
        self.size -= len(out)
        audible = bool(out)
        out += bytes(self.frame_bytes - len(out))
        return bytes(out), audible, ended


class FrameSampler:
    """Which camera frames to keep, decided in media time: at most `fps` per second."""

    def __init__(self, fps: float) -> None:
        self.period_ms = 1000.0 / fps
        self._origin: float | None = None
        self._next_ms = 0.0
        self.skipped = 0

    def take(self, t_s: float) -> int | None:
        """The frame's media time in ms (from the first frame) when it should be kept, else None."""
        if self._origin is None:
            self._origin = t_s
        t_ms = (t_s - self._origin) * 1000.0
        if t_ms + 0.5 < self._next_ms:
            self.skipped += 1
            return None
        self._next_ms = max(self._next_ms, t_ms) + self.period_ms
        return max(0, int(t_ms))


def screen_changed(previous: npt.NDArray[np.float32] | None, current: npt.NDArray[np.float32],
                   threshold: float) -> bool:
    return previous is None or float(np.mean(np.abs(current - previous))) >= threshold


def encode_jpeg(frame: av.VideoFrame, max_side: int, quality: int) -> bytes:
    image = frame.to_image()
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def thumbnail(frame: av.VideoFrame) -> npt.NDArray[np.float32]:
    return np.asarray(frame.to_image().convert("L").resize(THUMB), dtype=np.float32)


def encode_png(frame: av.VideoFrame) -> bytes:
    out = io.BytesIO()
    frame.to_image().save(out, format="PNG", compress_level=3)
    return out.getvalue()


# ---------------------------------------------------------------------- the outbound track


class ReplyTrack(MediaStreamTrack):
    """Reply audio as 20 ms frames in real time (aiortc's Opus encoder resamples to 48 kHz)."""

    kind = "audio"

    def __init__(self, buffer: ReplyBuffer, rate: int, on_played: Callable[[int], None]) -> None:
        super().__init__()
        self.buffer = buffer
        self.rate = rate
        self.samples = rate * FRAME_MS // 1000
        self._on_played = on_played
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self.samples
            wait = self._start + self._pts / self.rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        data, _, ended = self.buffer.pull()
        for turn_id in ended:  # the page has (within its jitter buffer) played that turn
            self._on_played(turn_id)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(data)
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        return frame


# ---------------------------------------------------------------------- the peer


@runtime_checkable
class _FullSession(Protocol):
    """What gateway.session.Session offers beyond SessionPort (see the report to the lead)."""

    request: SessionRequest

    def emit_nowait(self, event: SessionEvent) -> None: ...

    def confirm_sign(self, yes: bool) -> None: ...


class WebRtcPeer:
    def __init__(self, session: SessionPort, settings: WebRtcSettings,
                 on_close: Callable[[WebRtcPeer], None]) -> None:
        self.session = session
        self.settings = settings
        self._on_close = on_close
        self.audio = session.request.audio if isinstance(session, _FullSession) else DEFAULT_AUDIO
        self.buffer = ReplyBuffer(self.audio.frame_bytes(FRAME_MS),
                                  int(self.audio.sample_rate * 2 * settings.reply_buffer_s))
        self.track = ReplyTrack(self.buffer, self.audio.sample_rate, session.mark_played)
        self.channel: RTCDataChannel | None = None
        self.pc: RTCPeerConnection | None = None
        self.state = "new"
        self.frames_in = 0  # camera frames received (all of them; most are skipped by the sampler)
        self.video_sent = 0
        self.screens_sent = 0
        self._protocol = ServerProtocol(max_binary_bytes=MAX_CHANNEL_MESSAGE)
        self._protocol.receive_text('{"type": "session.start", "audio": {"sample_rate": 16000}}')
        self._tasks: set[asyncio.Task[None]] = set()
        self._screen_wanted = False
        self._screen_live = False
        self._closed = False
        self._closing: asyncio.Future[None] | None = None

    # -------------------------------------------------------------- MediaPeer

    async def answer(self, offer_sdp: str) -> str:
        if self.audio.encoding != "pcm16":
            raise GatewayError("WebRTC sessions need pcm16 audio (48000 Hz recommended)",
                               code="webrtc-bad-offer")
        kinds = offer_kinds(offer_sdp)
        if "audio" not in kinds:
            raise GatewayError("the offer has no audio: a call needs the microphone", code="webrtc-no-audio")
        self.pc = pc = RTCPeerConnection(self.settings.rtc_configuration())
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)
        try:
            with ice_hosts(self.settings.host_addresses):
                async with asyncio.timeout(self.settings.answer_timeout_s):
                    await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
                    pc.addTrack(self.track)
                    await pc.setLocalDescription(await pc.createAnswer())
        except TimeoutError:
            raise GatewayError("no WebRTC answer within the time limit", code="webrtc-timeout") from None
        except GatewayError:
            raise
        except Exception as exc:  # aiortc raises many types for offers it cannot use
            raise GatewayError(f"the SDP offer cannot be used: {exc!r}", code="webrtc-bad-offer") from None
        return str(pc.localDescription.sdp)

    def take(self, event: SessionEvent) -> bool:
        if isinstance(event, ReplyAudio):
            if self._closed:
                return False  # the media is gone: let the WebSocket carry it
            if not self.buffer.push(event.audio) and self.buffer.dropped_bytes == len(event.audio):
                self._report(LimitExceeded("reply audio longer than the peer's buffer was cut"))
            return True
        if isinstance(event, AudioClear):
            self.buffer.clear()
        elif isinstance(event, ReplyAudioEnd):
            self.buffer.end(event.turn_id)
        self._send(to_json(event))
        return False

    async def aclose(self) -> None:
        """Idempotent; every caller waits until the peer is really closed. Safe to call from the
        peer's own tasks (they are cancelled by the closing task, not by themselves)."""
        if self._closing is None:
            self._closed = True
            self.state = "closed"
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.track.stop()
        if self.pc is not None:
            await self.pc.close()  # also stops every receiver and sender track
        self._on_close(self)

    # -------------------------------------------------------------- events from aiortc

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._pump_audio(track))
            return
        assert self.pc is not None
        videos = [t for t in self.pc.getTransceivers() if t.kind == "video"]
        index = next((i for i, t in enumerate(videos) if t.receiver.track is track), len(videos))
        if index == 0:
            self._spawn(self._pump_camera(track))
        elif index == 1:
            self._spawn(self._pump_screen(track))
        else:  # undeclared extra video: drained so aiortc's queue cannot grow
            self._spawn(self._drain(track))

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != "events" or self.channel is not None:
            channel.close()
            return
        self.channel = channel
        channel.on("message", self._on_message)

    async def _on_state(self) -> None:
        assert self.pc is not None
        self.state = self.pc.connectionState
        if self.state in ("failed", "closed"):
            await self._lost()

    async def _lost(self) -> None:
        """The far end's media went away (ICE consent failed, or its DTLS closed the call)."""
        if self._closed:
            return
        self._report(GatewayError("the WebRTC connection was lost; the call goes on over the "
                                  "WebSocket only", code="webrtc-connection-failed"))
        await self.aclose()

    # -------------------------------------------------------------- media pumps

    async def _pump_audio(self, track: MediaStreamTrack) -> None:
        # Opus arrives decoded at 48 kHz (stereo s16): one resample to the session format.
        resampler = av.AudioResampler(format="s16", layout="mono", rate=self.audio.sample_rate)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                for out in resampler.resample(frame):
                    self.session.push_audio(out.to_ndarray().tobytes())
        # The caller's microphone track only ends when its connection does.
        await self._lost()

    async def _pump_camera(self, track: MediaStreamTrack) -> None:
        sampler = FrameSampler(self.settings.sign_fps)
        slot: list[tuple[av.VideoFrame, int]] = []  # one slot: the newest kept frame
        wake = asyncio.Event()
        self._spawn(self._encode_camera(slot, wake))
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames_in += 1
                if not isinstance(frame, av.VideoFrame) or frame.time is None:
                    continue
                t_ms = sampler.take(float(frame.time))
                if t_ms is not None:
                    slot[:] = [(frame, t_ms)]
                    wake.set()

    async def _encode_camera(self, slot: list[tuple[av.VideoFrame, int]], wake: asyncio.Event) -> None:
        s = self.settings
        while True:
            await wake.wait()
            wake.clear()
            if not slot:
                continue
            frame, t_ms = slot.pop()
            jpeg = await asyncio.to_thread(encode_jpeg, frame, s.video_max_side, s.jpeg_quality)
            self.session.push_video_frame(jpeg, t_ms)
            self.video_sent += 1

    async def _pump_screen(self, track: MediaStreamTrack) -> None:
        slot: list[av.VideoFrame] = []
        wake = asyncio.Event()
        self._spawn(self._check_screen(slot, wake))
        next_check: float | None = None
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.VideoFrame):
                    continue
                self._screen_live = True
                t = float(frame.time or 0.0)
                due = next_check is None or t >= next_check
                if due or self._screen_wanted:
                    next_check = t + self.settings.screen_interval_s
                    slot[:] = [frame]
                    wake.set()

    async def _check_screen(self, slot: list[av.VideoFrame], wake: asyncio.Event) -> None:
        previous: npt.NDArray[np.float32] | None = None
        while True:
            await wake.wait()
            wake.clear()
            if not slot:
                continue
            frame = slot.pop()
            wanted, self._screen_wanted = self._screen_wanted, False
            current = await asyncio.to_thread(thumbnail, frame)
            if wanted or screen_changed(previous, current, self.settings.screen_change):
                previous = current
                self.session.push_image(await asyncio.to_thread(encode_png, frame))
                self.screens_sent += 1

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    # -------------------------------------------------------------- data channel

    def _on_message(self, message: str | bytes) -> None:
        try:
            self._dispatch(message)
        except GatewayError as exc:  # answered on the channel it came from; the session goes on
            self._send(to_json(ErrorEvent(exc.code, exc.message)))

    def _dispatch(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            raise ProtocolError("the events channel carries JSON text messages", code="protocol-bad-json")
        if len(message) > MAX_CHANNEL_MESSAGE:
            raise LimitExceeded(f"message over {MAX_CHANNEL_MESSAGE} bytes", code="limit-exceeded")
        try:
            kind = json.loads(message).get("type")
        except (json.JSONDecodeError, RecursionError, AttributeError):
            raise ProtocolError("message is not a JSON object", code="protocol-bad-json") from None
        if kind not in CHANNEL_TYPES:
            raise ProtocolError(f"{kind!r} is not a data-channel message (signalling and session.end "
                                "use the WebSocket)", code="protocol-forbidden")
        if kind == "screen.capture":
            if not self._screen_live:
                raise GatewayError("no screen is being shared", code="webrtc-no-screen")
            self._screen_wanted = True
            return
        item = self._protocol.receive_text(message)
        s = self.session
        if isinstance(item, TextIn):
            s.push_text(item.text)
        elif isinstance(item, ImageIn):
            s.push_image(item.data)
        elif isinstance(item, SignConfirm) and isinstance(s, _FullSession):
            s.confirm_sign(item.yes)
        elif isinstance(item, BargeInRequest):
            s.barge_in()
        elif isinstance(item, DtmfIn):
            s.push_dtmf(item.digit)
        elif isinstance(item, Played):
            s.mark_played(item.turn_id)

    def _send(self, message: dict[str, Any]) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open" or self._closed:
            return
        if channel.bufferedAmount > self.settings.max_channel_buffer:
            return  # a stalled page loses events on this channel, never memory
        channel.send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    def _report(self, error: GatewayError) -> None:
        log.info("webrtc peer of %s: %s %s", self.session.session_id, error.code, error.message)
        if isinstance(self.session, _FullSession):
            self.session.emit_nowait(ErrorEvent(error.code, error.message))
        else:
            self._send(to_json(ErrorEvent(error.code, error.message)))


class WebRtcPeers:
    """The MediaPeerFactory the WebSocket server uses: one peer per session, at most `max_peers`."""

    def __init__(self, settings: WebRtcSettings | None = None) -> None:
        self.settings = settings or WebRtcSettings()
        self.settings.validate()
        self.live: set[WebRtcPeer] = set()

    def create(self, session: SessionPort) -> WebRtcPeer:
        if len(self.live) >= self.settings.max_peers:
            raise LimitExceeded(f"all {self.settings.max_peers} WebRTC slots are in use", code="webrtc-busy")
        peer = WebRtcPeer(session, self.settings, self.live.discard)
        self.live.add(peer)
        return peer
