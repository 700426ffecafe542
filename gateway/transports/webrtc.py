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

This module holds what the rest of the gateway needs without loading aiortc (settings, the
factory, the ICE host override); the peer is `webrtc_peer.py`, its connection-free media pieces
`webrtc_media.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.errors import ConfigError, LimitExceeded
from gateway.ports import SessionPort

if TYPE_CHECKING:
    from aiortc import RTCConfiguration

    from gateway.transports.webrtc_peer import WebRtcPeer

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

    def ice_hosts(self) -> contextlib.AbstractContextManager[None]:
        """The host addresses ICE may offer, while a peer gathers its candidates."""
        return ice_hosts(self.host_addresses)

    def rtc_configuration(self) -> RTCConfiguration:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

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


class WebRtcPeers:
    """The MediaPeerFactory the WebSocket server uses: one peer per session, at most `max_peers`."""

    def __init__(self, settings: WebRtcSettings | None = None) -> None:
        from models.extras import needs_extra

        with needs_extra("webrtc", "WebRTC calls (the /call page, the kiosk)"):
            from gateway.transports.webrtc_peer import WebRtcPeer  # aiortc loads here, at start-up

        self.settings = settings or WebRtcSettings()
        self.settings.validate()
        self.live: set[WebRtcPeer] = set()
        self._peer = WebRtcPeer

    def create(self, session: SessionPort) -> WebRtcPeer:
        if len(self.live) >= self.settings.max_peers:
            raise LimitExceeded(f"all {self.settings.max_peers} WebRTC slots are in use", code="webrtc-busy")
        peer = self._peer(session, self.settings, self.live.discard)
        self.live.add(peer)
        return peer
