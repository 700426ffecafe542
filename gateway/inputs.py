"""Caller inputs a session accepts, whatever the channel (frozen, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AudioIn:
    payload: bytes


@dataclass(frozen=True)
class TextIn:
    text: str


@dataclass(frozen=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True)
class ImageIn:
    data: bytes
    mime: str = ""


@dataclass(frozen=True)
class VideoFrameIn:
    data: bytes
    media_time_ms: int


@dataclass(frozen=True)
class SignConfirm:
    """The caller answered a sign read-back ("Did you sign REFUND?") with a tap."""

    yes: bool


@dataclass(frozen=True)
class AgentSays:
    """A person who took the call over speaks to the caller."""

    agent_id: str
    text: str


@dataclass(frozen=True)
class BargeInRequest:
    pass


@dataclass(frozen=True)
class Played:
    turn_id: int


@dataclass(frozen=True)
class End:
    reason: str = "caller-ended"


SessionInput = (AudioIn | TextIn | DtmfIn | ImageIn | VideoFrameIn | SignConfirm | AgentSays | BargeInRequest
                | Played | End)
