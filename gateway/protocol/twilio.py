"""Twilio-style media streams (also Telnyx/SignalWire/Fonoster): JSON text frames, base64 mu-law 8 kHz.

Sans-I/O: `TwilioStream.receive(frame)` turns one WebSocket text frame into one typed event;
`media()`, `mark()` and `clear()` build the outbound frames. Every peer-given size is capped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import LimitExceeded, MediaError, ProtocolError
from gateway.protocol.wire import clean_text, loads_bounded

DTMF_DIGITS = frozenset("0123456789*#ABCD")
MAX_FRAME_BYTES = 64 * 1024  # a 20 ms media frame is ~250 bytes of JSON
MAX_PARAMS = 32
MAX_PARAM_CHARS = 256


@dataclass(frozen=True)
class TwilioConnected:
    protocol: str
    version: str


@dataclass(frozen=True)
class TwilioStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TwilioMedia:
    payload: bytes  # mu-law 8 kHz
    timestamp_ms: int | None
    track: str


@dataclass(frozen=True)
class TwilioDtmf:
    digit: str


@dataclass(frozen=True)
class TwilioMark:
    name: str


@dataclass(frozen=True)
class TwilioStop:
    call_sid: str


TwilioEvent = TwilioConnected | TwilioStart | TwilioMedia | TwilioDtmf | TwilioMark | TwilioStop


def _missing(event: str, name: str) -> ProtocolError:
    return ProtocolError(f"twilio {event!r} frame without {name!r}", code="twilio-missing-field")


def _obj(msg: Mapping[str, Any], key: str, event: str) -> Mapping[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise _missing(event, key)
    return value


def _str(msg: Mapping[str, Any], key: str, event: str, *, cap: int = MAX_PARAM_CHARS) -> str:
    value = msg.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _missing(event, key)
    text = clean_text(str(value))  # a lone surrogate ("\ud800") would break every later encode
    if len(text) > cap:
        raise LimitExceeded(f"twilio field {key!r} longer than {cap}", code="twilio-field-too-long")
    return text


class TwilioStream:
    """One media stream (one WebSocket connection)."""

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.stream_sid: str | None = None
        self.stopped = False

    def receive(self, frame: str | bytes) -> TwilioEvent:
        if len(frame) > self.max_frame_bytes:
            raise LimitExceeded(f"twilio frame of {len(frame)} bytes over {self.max_frame_bytes}",
                                code="twilio-frame-too-large")
        try:
            msg = loads_bounded(frame)  # depth-limited: a 10,000-level frame is a bad frame, skipped
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"twilio frame is not JSON: {str(exc)[:100]}",
                                code="protocol-bad-frame") from None
        if not isinstance(msg, dict):
            raise ProtocolError("twilio frame is not a JSON object", code="protocol-bad-frame")
        event = msg.get("event")
        if not isinstance(event, str):
            raise _missing("?", "event")
        if event == "connected":
            return TwilioConnected(str(msg.get("protocol", "")), str(msg.get("version", "")))
        if event == "start":
            return self._start(msg)
        if self.stream_sid is None:
            raise ProtocolError(f"twilio {event!r} before 'start'", code="twilio-not-started")
        if event == "media":
            media = _obj(msg, "media", event)
            payload = media.get("payload")
            if not isinstance(payload, str):
                raise _missing(event, "media.payload")
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise ProtocolError("twilio media payload is not base64", code="protocol-bad-frame") from None
            ts = media.get("timestamp")
            timestamp = int(ts) if isinstance(ts, str | int) and str(ts).isdigit() else None
            return TwilioMedia(audio, timestamp, str(media.get("track", "inbound")))
        if event == "dtmf":
            digit = _str(_obj(msg, "dtmf", event), "digit", event, cap=1)
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"twilio dtmf digit {digit!r} unknown", code="protocol-bad-frame")
            return TwilioDtmf(digit)
        if event == "mark":
            return TwilioMark(_str(_obj(msg, "mark", event), "name", event))
        if event == "stop":
            self.stopped = True
            stop = msg.get("stop")
            call_sid = stop.get("callSid", "") if isinstance(stop, dict) else ""
            return TwilioStop(str(call_sid)[:MAX_PARAM_CHARS])
        raise ProtocolError(f"twilio event {event[:40]!r} unknown", code="protocol-bad-frame")

    def _start(self, msg: Mapping[str, Any]) -> TwilioStart:
        start = _obj(msg, "start", "start")
        stream_sid = _str(start, "streamSid", "start") if "streamSid" in start else _str(
            msg, "streamSid", "start")
        fmt = start.get("mediaFormat")
        if isinstance(fmt, dict):
            enc, rate = fmt.get("encoding"), fmt.get("sampleRate")
            if enc != "audio/x-mulaw" or rate not in (8000, "8000") or fmt.get("channels", 1) not in (1, "1"):
                raise MediaError(f"twilio media format {enc}/{rate} unsupported (want audio/x-mulaw 8000 "
                                 "mono)", code="twilio-unsupported-format")
        raw = start.get("customParameters") or {}
        if not isinstance(raw, dict):
            raise ProtocolError("twilio customParameters is not an object", code="protocol-bad-frame")
        if len(raw) > MAX_PARAMS:
            raise LimitExceeded(f"twilio start has over {MAX_PARAMS} custom parameters",
                                code="twilio-field-too-long")
        params = {clean_text(str(k)[:MAX_PARAM_CHARS]): _str(raw, k, "start") for k in raw}
        tracks = start.get("tracks", ["inbound"])
        self.stream_sid = stream_sid
        return TwilioStart(
            stream_sid=stream_sid,
            call_sid=_str(start, "callSid", "start"),
            account_sid=str(start.get("accountSid", ""))[:MAX_PARAM_CHARS],
            tracks=tuple(str(t)[:32] for t in tracks[:4]) if isinstance(tracks, list) else ("inbound",),
            custom_parameters=params,
        )

    # -- outbound ---------------------------------------------------------------------------------
    def _sid(self) -> str:
        if self.stream_sid is None:
            raise ProtocolError("twilio stream not started", code="twilio-not-started")
        return self.stream_sid

    def media(self, payload: bytes) -> str:
        return json.dumps({"event": "media", "streamSid": self._sid(),
                           "media": {"payload": base64.b64encode(payload).decode("ascii")}})

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "streamSid": self._sid(), "mark": {"name": name}})

    def clear(self) -> str:
        return json.dumps({"event": "clear", "streamSid": self._sid()})
