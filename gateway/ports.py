"""What a transport (WebSocket, Twilio stream, AudioSocket, SIP/RTP, WebRTC) sees of a session.

A transport parses its wire with a sans-I/O protocol object, opens a session through the
SessionFactory, pushes caller input into it, and maps the session's events back onto its wire.
Push methods never block: inputs land in bounded queues (overflow is an `ErrorEvent` with code
`limit-exceeded` and the input is dropped, never the session).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from gateway.events import AudioFormat, SessionEvent
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


@dataclass(frozen=True)
class SessionRequest:
    channel: str  # "websocket" | "phone" | "browser" | "kiosk"
    audio: AudioFormat  # caller audio in and reply audio out use this format
    language: str = "auto"  # ISO 639-1, or "auto" to detect per turn
    tenant: str = "default"
    params: Mapping[str, str] = field(default_factory=dict)  # caller number, stream ids, ...
    session_id: str | None = None  # reuse an id (channel change within one conversation)
    source: str | None = None  # a phone bridge's peer address: checked against security.bridge_sources


class SessionPort(Protocol):
    session_id: str
    request: SessionRequest  # what the session was opened with (format, channel, tenant)

    def push(self, item: SessionInput) -> None:
        """Any caller input (gateway.inputs): audio in the session format of any length, text,
        a key, an image, a video frame, a sign read-back answer, a barge-in, a played mark."""

    def emit_nowait(self, event: SessionEvent) -> None:
        """Adds a transport-side event (e.g. a WebRTC error) to the outbound stream."""

    def events(self) -> AsyncIterator[SessionEvent]:
        """Outbound events until SessionEnded; one consumer per session."""
        ...

    async def close(self, reason: str = "hangup") -> None:
        """Ends the session; what was said is stored; idempotent."""


CALLER_INPUTS = (AudioIn, TextIn, DtmfIn, ImageIn, VideoFrameIn, SignConfirm, BargeInRequest, Played)


def dispatch(session: SessionPort, item: object) -> None:
    """A parsed caller input into its session (every transport that carries protocol v1 inputs:
    the WebSocket, the WebRTC data channel). Anything else is not a caller input and is ignored."""
    if isinstance(item, CALLER_INPUTS):
        session.push(item)


class SessionFactory(Protocol):
    async def open(self, request: SessionRequest) -> SessionPort:
        """Raises LimitExceeded(code="busy") when at capacity."""
        ...


class MediaPeer(Protocol):
    """A media connection beside a WebSocket session (a WebRTC peer): the WebSocket carries the
    signalling and events, the peer carries the caller's audio/video in and the reply audio out."""

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer to the browser's offer; raises GatewayError (e.g. `webrtc-bad-offer`)."""
        ...

    def take(self, event: SessionEvent) -> bool:
        """Offered every session event first; True when the peer consumed it (reply audio goes
        on its outbound track instead of the WebSocket). AudioClear flushes the track and
        returns False so the page hears about it too."""
        ...

    async def aclose(self) -> None: ...


class MediaPeerFactory(Protocol):
    def create(self, session: SessionPort) -> MediaPeer: ...
