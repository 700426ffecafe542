"""SDP offer/answer (RFC 3264) for one G.711 audio stream with RFC 4733 telephone-event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.errors import LimitExceeded, MediaError, ProtocolError
from gateway.events import Encoding

MAX_SDP_BYTES = 8192
MAX_LINES = 128
MAX_LINE = 1024
STATIC: Mapping[int, tuple[str, int]] = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
CODECS: Mapping[str, Encoding] = {"PCMU": "mulaw", "PCMA": "alaw"}


@dataclass(frozen=True)
class MediaDescription:
    media: str
    port: int
    proto: str
    formats: tuple[int, ...]
    address: str | None  # c= of the media, else the session's
    rtpmap: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    ptime: int | None = None
    direction: str = "sendrecv"


@dataclass(frozen=True)
class SessionDescription:
    origin_address: str
    media: tuple[MediaDescription, ...]


@dataclass(frozen=True)
class NegotiatedMedia:
    """What both sides agreed for the call's audio."""

    remote: tuple[str, int]  # where our RTP goes (and the only source we accept RTP from)
    codec: str  # "PCMU" | "PCMA"
    payload_type: int
    dtmf_payload_type: int | None
    ptime: int
    direction: str

    @property
    def encoding(self) -> Encoding:
        return CODECS[self.codec]


def parse_sdp(body: bytes) -> SessionDescription:
    if len(body) > MAX_SDP_BYTES:
        raise LimitExceeded(f"SDP of {len(body)} bytes over {MAX_SDP_BYTES}", code="sdp-too-large")
    try:
        lines = body.decode("utf-8").replace("\r\n", "\n").split("\n")
    except UnicodeDecodeError:
        raise ProtocolError("SDP is not UTF-8", code="sdp-bad") from None
    if len(lines) > MAX_LINES:
        raise LimitExceeded(f"SDP with over {MAX_LINES} lines", code="sdp-too-large")
    session_addr: str | None = None
    origin = ""
    media: list[_Builder] = []
    for line in lines:
        if not line.strip():
            continue
        if len(line) > MAX_LINE or len(line) < 2 or line[1] != "=":
            raise ProtocolError(f"SDP line malformed: {line[:40]!r}", code="sdp-bad")
        kind, value = line[0], line[2:].strip()
        if kind == "o":
            parts = value.split()
            origin = parts[5] if len(parts) == 6 else ""
        elif kind == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
                raise ProtocolError(f"SDP c= line malformed: {value[:40]!r}", code="sdp-bad")
            addr = parts[2].split("/")[0]
            if media:
                media[-1].address = addr
            else:
                session_addr = addr
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                raise ProtocolError(f"SDP m= line malformed: {value[:40]!r}", code="sdp-bad")
            port = int(parts[1].split("/")[0])
            bad_fmt = not all(p.isdigit() and int(p) < 128 for p in parts[3:])
            if port > 65535 or len(parts) > 40 or (bad_fmt and parts[2].startswith("RTP/")):
                raise ProtocolError("SDP m= port, format count or payload types out of range", code="sdp-bad")
            fmts = tuple(int(p) for p in parts[3:] if p.isdigit() and int(p) < 128)
            media.append(_Builder(parts[0], port, parts[2], fmts))
        elif kind == "a" and media:
            media[-1].attribute(value)
    return SessionDescription(origin, tuple(MediaDescription(
        m.media, m.port, m.proto, m.formats, m.address or session_addr, m.rtpmap, m.ptime, m.direction)
        for m in media))


@dataclass
class _Builder:
    """One m= section while its lines are read."""

    media: str
    port: int
    proto: str
    formats: tuple[int, ...]
    address: str | None = None
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    ptime: int | None = None
    direction: str = "sendrecv"

    def attribute(self, value: str) -> None:
        name, _, rest = value.partition(":")
        if name == "rtpmap":
            pt, _, enc = rest.partition(" ")
            codec, _, rate = enc.partition("/")
            rate = rate.partition("/")[0]
            if pt.isdigit() and rate.isdigit() and len(codec) <= 32:
                self.rtpmap[int(pt)] = (codec.upper(), int(rate))
        elif name == "ptime" and rest.strip().isdigit():
            self.ptime = min(int(rest.strip()), 1000)
        elif name in ("sendrecv", "sendonly", "recvonly", "inactive"):
            self.direction = name


def negotiate(offer: SessionDescription, allowed: Sequence[str] = ("PCMU", "PCMA")) -> NegotiatedMedia:
    """Pick the first offered audio codec we allow (the offerer's preference order wins)."""
    for m in offer.media:
        if m.media != "audio" or m.port == 0 or m.proto not in ("RTP/AVP", "RTP/AVPF"):
            continue
        if not m.address:
            raise ProtocolError("SDP audio stream without a connection address", code="sdp-bad")
        names = {pt: m.rtpmap.get(pt, STATIC.get(pt, ("", 0))) for pt in m.formats}
        codec_pt = next((pt for pt in m.formats if names[pt][1] == 8000 and names[pt][0] in allowed), None)
        if codec_pt is None:
            continue
        dtmf = next((pt for pt in m.formats if names[pt] == ("TELEPHONE-EVENT", 8000)), None)
        return NegotiatedMedia((m.address, m.port), names[codec_pt][0], codec_pt, dtmf, m.ptime or 20,
                               m.direction)
    offered = sorted({f"{c}/{r}" for m in offer.media for c, r in
                      (m.rtpmap.get(pt, STATIC.get(pt, (str(pt), 0))) for pt in m.formats)})
    raise MediaError(f"no common audio codec: offered {', '.join(offered)[:200] or 'nothing'}, "
                     f"we take {'/'.join(allowed)} at 8000 Hz", code="sdp-no-common-codec")


def build_answer(media: NegotiatedMedia, *, address: str, port: int, session_id: int) -> bytes:
    ip = "IP6" if ":" in address else "IP4"
    fmts = [media.payload_type] + ([media.dtmf_payload_type] if media.dtmf_payload_type is not None else [])
    direction = {"sendonly": "recvonly", "recvonly": "sendonly"}.get(media.direction, media.direction)
    lines = [
        "v=0", f"o=gateway {session_id} {session_id} IN {ip} {address}", "s=gateway", f"c=IN {ip} {address}",
        "t=0 0", f"m=audio {port} RTP/AVP {' '.join(map(str, fmts))}",
        f"a=rtpmap:{media.payload_type} {media.codec}/8000"]
    if media.dtmf_payload_type is not None:
        lines += [f"a=rtpmap:{media.dtmf_payload_type} telephone-event/8000",
                  f"a=fmtp:{media.dtmf_payload_type} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
