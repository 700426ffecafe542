"""RTP (RFC 3550) for G.711 calls: packets, RFC 4733 telephone-events, a jitter buffer with
packet-loss concealment, and a receiver that checks where packets come from.

Everything here is pure: packets in, typed events out, driven by the packets' own timestamps
(never the wall clock), so it can be tested with recorded captures at any speed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gateway.errors import LimitExceeded, ProtocolError

HEADER = struct.Struct("!BBHII")
MAX_PACKET = 1500  # one Ethernet MTU; G.711 at 20 ms is 172 bytes
DTMF_EVENTS = "0123456789*#ABCD"
TS_MOD = 1 << 32


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        return HEADER.pack(0x80, (0x80 if self.marker else 0) | self.payload_type, self.seq & 0xFFFF,
                           self.timestamp % TS_MOD, self.ssrc) + self.payload


def parse_packet(data: bytes, *, max_bytes: int = MAX_PACKET) -> RtpPacket:
    if len(data) > max_bytes:
        raise LimitExceeded(f"rtp packet of {len(data)} bytes over {max_bytes}", code="rtp-too-large")
    if len(data) < HEADER.size:
        raise ProtocolError("rtp packet shorter than its header", code="rtp-bad-packet")
    b0, b1, seq, ts, ssrc = HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise ProtocolError("rtp version is not 2", code="rtp-bad-packet")
    start = HEADER.size + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < start + 4:
            raise ProtocolError("rtp extension header truncated", code="rtp-bad-packet")
        start += 4 + 4 * struct.unpack_from("!H", data, start + 2)[0]
    end = len(data)
    if b0 & 0x20:  # padding: last byte says how many bytes to drop
        end -= data[-1]
    if start > end or (b0 & 0x20 and data[-1] == 0):
        raise ProtocolError("rtp header or padding longer than the packet", code="rtp-bad-packet")
    return RtpPacket(b1 & 0x7F, seq, ts, ssrc, bytes(data[start:end]), bool(b1 & 0x80))


@dataclass(frozen=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str | None:
        return DTMF_EVENTS[self.event] if self.event < len(DTMF_EVENTS) else None

    def to_bytes(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F),
                           self.duration)


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise ProtocolError("telephone-event payload shorter than 4 bytes", code="rtp-bad-packet")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


class DtmfReceiver:
    """Turns RFC 4733 packets into digits: one digit per event, reported on its first end packet
    (the end packet is sent three times); an event whose end packets were all lost is reported
    when the next event starts."""

    def __init__(self) -> None:
        self._current: tuple[int, int] | None = None  # (event timestamp, event code) not yet reported
        self._done: set[int] = set()

    def receive(self, packet: RtpPacket) -> list[str]:
        ev = parse_telephone_event(packet.payload)
        if packet.timestamp in self._done:
            return []  # redundant end packet, or a retransmission of a reported event
        out: list[str] = []
        if self._current is not None and self._current[0] != packet.timestamp:
            if self._current[1] < len(DTMF_EVENTS):  # its end packets were lost
                out.append(DTMF_EVENTS[self._current[1]])
            self._remember(self._current[0])
        self._current = (packet.timestamp, ev.event)
        if ev.end:
            self._current = None
            self._remember(packet.timestamp)
            if ev.digit is not None:
                out.append(ev.digit)
        return out

    def _remember(self, ts: int) -> None:
        if len(self._done) >= 64:  # bounded: only recent events can be repeated
            self._done.clear()
        self._done.add(ts)


Conceal = Callable[[bytes, int, int], bytes]  # (last good frame, samples wanted, nth loss) -> payload


@dataclass(frozen=True)
class JitterFrame:
    payload: bytes
    timestamp: int  # extended (unwrapped) RTP timestamp of its first sample
    concealed: bool = False


@dataclass
class JitterStats:
    played: int = 0
    late: int = 0
    duplicate: int = 0
    concealed: int = 0
    resync: int = 0
    overflow: int = 0


class JitterBuffer:
    """Reorders packets by RTP timestamp and releases audio once `depth` of later audio has
    arrived; a hole older than that is filled by `conceal` (packet-loss concealment), a hole
    longer than `max_gap_ms` (silence suppression, a restarted sender) is skipped."""

    def __init__(self, conceal: Conceal, *, clock_rate: int = 8000, bytes_per_sample: int = 1,
                 depth_ms: int = 60, max_gap_ms: int = 200, max_packets: int = 100) -> None:
        self._conceal = conceal
        self._bps = bytes_per_sample
        self._depth = clock_rate * depth_ms // 1000
        self._max_gap = clock_rate * max_gap_ms // 1000
        self._frame = clock_rate // 50  # concealment in 20 ms steps
        self._max_packets = max_packets
        self._packets: dict[int, bytes] = {}
        self._ref: int | None = None  # last raw timestamp seen, for unwrapping
        self._ext = 0  # its extended value
        self._next: int | None = None  # extended timestamp of the next sample to release
        self._newest_end = 0
        self._last_good = b""
        self._losses = 0
        self.stats = JitterStats()

    def _unwrap(self, ts: int) -> int:
        if self._ref is None:
            self._ref, self._ext = ts, ts
            return ts
        delta = (ts - self._ref) % TS_MOD
        if delta >= TS_MOD // 2:
            delta -= TS_MOD
        if delta > 0:
            self._ref, self._ext = ts, self._ext + delta
            return self._ext
        return self._ext + delta

    def push(self, timestamp: int, payload: bytes) -> list[JitterFrame]:
        ext = self._unwrap(timestamp)
        if self._next is not None and ext < self._next:
            self.stats.late += 1
            return []
        if ext in self._packets:
            self.stats.duplicate += 1
            return []
        if len(self._packets) >= self._max_packets:
            self.stats.overflow += 1  # the reader stalled: keep the newest audio only
            return self.drain()[-self._max_packets:] + self.push(timestamp, payload)
        self._packets[ext] = payload
        self._newest_end = max(self._newest_end, ext + len(payload) // self._bps)
        if self._next is None:
            first = min(self._packets)
            if self._newest_end - first < self._depth:
                return []
            self._next = first
        return self._release(self._depth)

    def drain(self) -> list[JitterFrame]:
        """Release everything buffered (end of call)."""
        return self._release(0) if self._packets else []

    def reset(self) -> list[JitterFrame]:
        """A new stream (SSRC) starts: release the old one's audio and forget its timeline."""
        tail = self.drain()
        self._packets.clear()
        self._ref, self._next, self._newest_end, self._last_good, self._losses = None, None, 0, b"", 0
        return tail

    def _release(self, keep: int) -> list[JitterFrame]:
        out: list[JitterFrame] = []
        if self._next is None:
            self._next = min(self._packets)
        while self._packets and self._newest_end - self._next > keep:
            payload = self._packets.pop(self._next, None)
            if payload is not None:
                out.append(JitterFrame(payload, self._next))
                self._next += len(payload) // self._bps or 1
                self._last_good, self._losses = payload, 0
                self.stats.played += 1
                continue
            gap = min(self._packets) - self._next
            if gap > self._max_gap or not self._last_good:
                self._next += gap
                self.stats.resync += 1
                continue
            n = min(gap, self._frame)
            self._losses += 1
            out.append(JitterFrame(self._conceal(self._last_good, n, self._losses), self._next, True))
            self._next += n
            self.stats.concealed += 1
        return out


def fade_conceal(decode: Callable[[bytes], np.ndarray], encode: Callable[[np.ndarray], bytes]) -> Conceal:
    """Concealment by repeating the tail of the last good frame, fading out over 3 losses
    (G.711 Appendix I in spirit: waveform repetition, then silence)."""

    def conceal(last: bytes, n: int, nth: int) -> bytes:
        pcm = decode(last).astype(np.float32)
        if pcm.size == 0 or nth > 3:
            return encode(np.zeros(n, dtype=np.int16))
        reps = -(-n // pcm.size)
        tail = np.tile(pcm, reps)[:n]
        gain = np.linspace(1.0 - (nth - 1) / 3, 1.0 - nth / 3, n, dtype=np.float32)
        return encode(np.clip(tail * gain, -32768, 32767).astype(np.int16))

    return conceal


@dataclass(frozen=True)
class RtpAudio:
    payload: bytes
    timestamp: int
    concealed: bool


@dataclass(frozen=True)
class RtpDtmf:
    digit: str


RtpEvent = RtpAudio | RtpDtmf


@dataclass
class RtpCounters:
    received: int = 0
    unknown_source: int = 0
    bad_packet: int = 0
    other_payload: int = 0
    ssrc_changes: int = 0


class RtpReceiver:
    """Inbound media of one call: only from the address the SDP named; audio through the
    jitter buffer, telephone-events through the DTMF receiver."""

    def __init__(self, remote: tuple[str, int], audio_pt: int, dtmf_pt: int | None,
                 jitter: JitterBuffer) -> None:
        self.remote = remote
        self.audio_pt = audio_pt
        self.dtmf_pt = dtmf_pt
        self.jitter = jitter
        self.counters = RtpCounters()
        self._ssrc: int | None = None
        self._dtmf = DtmfReceiver()

    def receive(self, data: bytes, source: tuple[str, int]) -> list[RtpEvent]:
        if (source[0], source[1]) != self.remote:
            self.counters.unknown_source += 1
            return []
        try:
            pkt = parse_packet(data)
        except (ProtocolError, LimitExceeded):
            self.counters.bad_packet += 1
            return []
        self.counters.received += 1
        if pkt.payload_type == self.dtmf_pt:
            try:
                digits = self._dtmf.receive(pkt)
            except ProtocolError:
                self.counters.bad_packet += 1
                return []
            return [RtpDtmf(d) for d in digits]
        if pkt.payload_type != self.audio_pt:
            self.counters.other_payload += 1
            return []
        frames: list[JitterFrame] = []
        if self._ssrc != pkt.ssrc:
            if self._ssrc is not None:
                self.counters.ssrc_changes += 1
                frames = self.jitter.reset()
            self._ssrc = pkt.ssrc
        frames += self.jitter.push(pkt.timestamp, pkt.payload)
        return [RtpAudio(f.payload, f.timestamp, f.concealed) for f in frames]

    def drain(self) -> list[RtpEvent]:
        return [RtpAudio(f.payload, f.timestamp, f.concealed) for f in self.jitter.drain()]


class RtpSender:
    """Outbound packets for one stream. The timestamp follows the media clock (a pause in the
    reply advances it too), and the first packet after a pause carries the marker bit."""

    def __init__(self, payload_type: int, ssrc: int, *, seq: int = 0, timestamp: int = 0,
                 clock_rate: int = 8000) -> None:
        self.payload_type = payload_type
        self.ssrc = ssrc
        self._seq = seq
        self._base = timestamp
        self._rate = clock_rate
        self._expected: int | None = None  # timestamp that would continue the current talk-spurt

    def packet(self, payload: bytes, media_time_ms: int, *, samples: int | None = None) -> bytes:
        ts = (self._base + media_time_ms * self._rate // 1000) % TS_MOD
        pkt = RtpPacket(self.payload_type, self._seq, ts, self.ssrc, payload, ts != self._expected)
        self._seq = (self._seq + 1) & 0xFFFF
        self._expected = (ts + (len(payload) if samples is None else samples)) % TS_MOD
        return pkt.to_bytes()
