"""One aiortc peer per session (a MediaPeer): the caller's audio, camera and screen into the
session, the reply out on a paced audio track, the "events" data channel both ways. See
gateway/transports/webrtc.py for the overview and docs/webrtc.md for the contract."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import av
import numpy as np
import numpy.typing as npt
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from gateway.errors import GatewayError, LimitExceeded, ProtocolError
from gateway.events import AudioClear, ErrorEvent, ReplyAudio, ReplyAudioEnd, SessionEvent
from gateway.inputs import AudioIn, ImageIn, Played, VideoFrameIn
from gateway.ports import SessionPort, dispatch
from gateway.protocol.wire import dumps_wire, loads_bounded
from gateway.protocol.ws_v1 import ServerProtocol, to_json
from gateway.transports.webrtc_media import (
    FRAME_MS,
    FrameSampler,
    ReplyBuffer,
    ReplyTrack,
    encode_jpeg,
    encode_png,
    offer_kinds,
    screen_changed,
    thumbnail,
)

log = logging.getLogger("gateway.webrtc")

# Caller messages the data channel accepts (signalling and hang-up stay on the WebSocket).
CHANNEL_TYPES = frozenset({"text", "image", "sign.confirm", "barge_in", "dtmf", "played", "screen.capture"})
MAX_CHANNEL_MESSAGE = 262_144  # aiortc's own SCTP message limit


class PeerSettings(Protocol):
    """What a peer needs of gateway.transports.webrtc.WebRtcSettings (which imports this module
    lazily: the peer must not import it back)."""

    @property
    def sign_fps(self) -> float: ...

    @property
    def video_max_side(self) -> int: ...

    @property
    def jpeg_quality(self) -> int: ...

    @property
    def screen_interval_s(self) -> float: ...

    @property
    def screen_change(self) -> float: ...

    @property
    def reply_buffer_s(self) -> float: ...

    @property
    def answer_timeout_s(self) -> float: ...

    @property
    def max_channel_buffer(self) -> int: ...

    def rtc_configuration(self) -> RTCConfiguration: ...

    def ice_hosts(self) -> contextlib.AbstractContextManager[None]: ...


class WebRtcPeer:
    def __init__(self, session: SessionPort, settings: PeerSettings,
                 on_close: Callable[[WebRtcPeer], None]) -> None:
        self.session = session
        self.settings = settings
        self._on_close = on_close
        self.audio = session.request.audio
        self.buffer = ReplyBuffer(self.audio.frame_bytes(FRAME_MS),
                                  int(self.audio.sample_rate * 2 * settings.reply_buffer_s))
        self.track = ReplyTrack(self.buffer, self.audio.sample_rate,
                                lambda turn_id: session.push(Played(turn_id)))
        self.channel: RTCDataChannel | None = None
        self.pc: RTCPeerConnection | None = None
        self.state = "new"
        self.frames_in = 0  # camera frames received (all of them; most are skipped by the sampler)
        self.video_sent = 0
        self.screens_sent = 0
        # Data-channel inputs are validated by the WebSocket's own protocol object, put in its
        # started state once (the session itself was started over the WebSocket).
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
            with self.settings.ice_hosts():
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
                    self.session.push(AudioIn(out.to_ndarray().tobytes()))
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
            self.session.push(VideoFrameIn(jpeg, t_ms))
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
                self.session.push(ImageIn(await asyncio.to_thread(encode_png, frame)))
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
            kind = loads_bounded(message).get("type")
        except (ValueError, AttributeError):  # malformed, nested too deeply, or not an object
            raise ProtocolError("message is not a JSON object", code="protocol-bad-json") from None
        if kind not in CHANNEL_TYPES:
            raise ProtocolError(f"{kind!r} is not a data-channel message (signalling and session.end "
                                "use the WebSocket)", code="protocol-forbidden")
        if kind == "screen.capture":
            if not self._screen_live:
                raise GatewayError("no screen is being shared", code="webrtc-no-screen")
            self._screen_wanted = True
            return
        dispatch(self.session, self._protocol.receive_text(message))

    def _send(self, message: dict[str, Any]) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open" or self._closed:
            return
        if channel.bufferedAmount > self.settings.max_channel_buffer:
            return  # a stalled page loses events on this channel, never memory
        channel.send(dumps_wire(message))  # valid UTF-8 whatever the caller's text held

    def _report(self, error: GatewayError) -> None:
        log.info("webrtc peer of %s: %s %s", self.session.session_id, error.code, error.message)
        # Through the session, so the WebSocket and this data channel both carry it.
        self.session.emit_nowait(ErrorEvent(error.code, error.message))
