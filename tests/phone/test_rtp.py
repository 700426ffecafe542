"""RTP packets, RFC 4733 DTMF, the jitter buffer and the receiver, with the real captures."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.protocol.rtp import (
    DtmfReceiver,
    JitterBuffer,
    RtpAudio,
    RtpDtmf,
    RtpPacket,
    RtpReceiver,
    RtpSender,
    TelephoneEvent,
    parse_packet,
)
from gateway.telephony import from_pcm16, g711_conceal, to_pcm16
from tests.phone.conftest import read_pcap_udp, realdata

SRC = ("10.0.0.1", 4000)


def receiver(pt: int = 0, depth_ms: int = 60) -> RtpReceiver:
    enc = "alaw" if pt == 8 else "mulaw"
    return RtpReceiver(SRC, pt, 101, JitterBuffer(g711_conceal(enc), depth_ms=depth_ms))


def test_packet_round_trip_and_header_fields() -> None:
    pkt = RtpPacket(8, 65535, 2**32 - 80, 0xDEADBEEF, b"\xd5" * 160, marker=True)
    assert parse_packet(pkt.to_bytes()) == pkt


def test_packet_with_csrc_extension_and_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 0, 1, 160, 7) + b"CSRC"
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x00" * 4
    data = header + ext + b"\x01\x02\x03" + b"\x00\x00\x03"
    assert parse_packet(data).payload == b"\x01\x02\x03"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1600))
def test_parse_packet_never_crashes(data: bytes) -> None:
    try:
        pkt = parse_packet(data)
    except GatewayError as exc:
        assert exc.code in ("rtp-bad-packet", "rtp-too-large")
    else:
        assert len(pkt.payload) <= len(data)


def dtmf_packet(ts: int, event: int, end: bool, duration: int, seq: int) -> bytes:
    return RtpPacket(101, seq, ts, 1, TelephoneEvent(event, end, 10, duration).to_bytes()).to_bytes()


def test_dtmf_end_packets_are_deduplicated() -> None:
    dtmf = DtmfReceiver()
    digits: list[str] = []
    seq = 0
    for ts, event in ((1000, 1), (5000, 11)):
        for dur in (160, 320, 480):
            seq += 1
            digits += dtmf.receive(parse_packet(dtmf_packet(ts, event, False, dur, seq)))
        for _ in range(3):  # the end packet is sent three times
            seq += 1
            digits += dtmf.receive(parse_packet(dtmf_packet(ts, event, True, 640, seq)))
    assert digits == ["1", "#"]


def test_dtmf_with_all_end_packets_lost_is_reported_when_next_starts() -> None:
    dtmf = DtmfReceiver()
    out = dtmf.receive(parse_packet(dtmf_packet(1000, 5, False, 160, 1)))
    out += dtmf.receive(parse_packet(dtmf_packet(3000, 6, False, 160, 2)))
    out += dtmf.receive(parse_packet(dtmf_packet(3000, 6, True, 320, 3)))
    assert out == ["5", "6"]


def frames(n: int, start_ts: int = 0, size: int = 160) -> list[tuple[int, int, bytes]]:
    return [(i, (start_ts + i * size) % 2**32, bytes([i % 256]) * size) for i in range(n)]


def test_jitter_buffer_reorders_and_waits_for_depth() -> None:
    jb = JitterBuffer(g711_conceal("mulaw"), depth_ms=60)
    pkts = frames(10)
    order = [0, 2, 1, 3, 5, 4, 6, 7, 9, 8]
    out = []
    for i in order:
        out += jb.push(pkts[i][1], pkts[i][2])
    out += jb.drain()
    assert [f.payload[0] for f in out] == list(range(10))
    assert not any(f.concealed for f in out) and jb.stats.played == 10


def test_jitter_buffer_conceals_a_lost_packet_and_drops_late_and_duplicates() -> None:
    jb = JitterBuffer(g711_conceal("mulaw"), depth_ms=40)
    pkts = frames(12)
    out = []
    for i in range(12):
        if i == 4:
            continue  # lost
        out += jb.push(pkts[i][1], pkts[i][2])
        if i == 6:
            out += jb.push(pkts[6][1], pkts[6][2])  # duplicate
    out += jb.push(pkts[4][1], pkts[4][2])  # far too late now
    out += jb.drain()
    assert [f.concealed for f in out].count(True) == 1
    assert out[4].concealed and len(out[4].payload) == 160
    assert jb.stats.duplicate == 1 and jb.stats.late == 1
    assert [f.timestamp for f in out] == [i * 160 for i in range(12)]


def test_jitter_buffer_timestamp_wraparound() -> None:
    jb = JitterBuffer(g711_conceal("mulaw"), depth_ms=40)
    out = []
    for _, ts, payload in frames(8, start_ts=2**32 - 3 * 160):
        out += jb.push(ts, payload)
    out += jb.drain()
    assert len(out) == 8 and not any(f.concealed for f in out)


def test_concealment_fades_to_silence() -> None:
    conceal = g711_conceal("mulaw")
    t = np.arange(160)
    loud = from_pcm16((8000 * np.sin(2 * np.pi * t / 16)).astype(np.int16), "mulaw")
    levels = [np.abs(to_pcm16(conceal(loud, 160, n), "mulaw")).mean() for n in (1, 2, 3, 4)]
    assert levels[0] > levels[1] > levels[2] > levels[3] and levels[3] < 10


def test_receiver_drops_unknown_source_and_counts_it() -> None:
    rx = receiver()
    sender = RtpSender(0, 42)
    assert rx.receive(sender.packet(b"\xff" * 160, 0), ("10.0.0.9", 4000)) == []
    assert rx.receive(sender.packet(b"\xff" * 160, 20), (SRC[0], 4001)) == []
    assert rx.counters.unknown_source == 2 and rx.counters.received == 0


def test_sender_timestamps_follow_media_clock_and_mark_talkspurts() -> None:
    tx = RtpSender(0, 1, seq=65535, timestamp=100)
    a = parse_packet(tx.packet(b"\xff" * 160, 0))
    b = parse_packet(tx.packet(b"\xff" * 160, 20))
    c = parse_packet(tx.packet(b"\xff" * 160, 1000))  # after a pause
    assert (a.seq, b.seq, c.seq) == (65535, 0, 1)
    assert (a.timestamp, b.timestamp, c.timestamp) == (100, 260, 8100)
    assert (a.marker, b.marker, c.marker) == (True, False, True)


def replay(path: str, pt: int) -> tuple[RtpReceiver, list[RtpAudio | RtpDtmf]]:
    packets = [p for _, p in read_pcap_udp(realdata("sip", path)) if len(p) >= 12 and p[0] >> 6 == 2]
    assert packets, f"no RTP in {path}"
    rx = receiver(pt)
    events: list[RtpAudio | RtpDtmf] = []
    for data in packets:
        events += rx.receive(data, SRC)
    return rx, events + rx.drain()


def test_real_capture_g711a_plays_through_jitter_buffer() -> None:
    rx, events = replay("g711a.pcap", 8)
    audio = [e for e in events if isinstance(e, RtpAudio)]
    assert rx.counters.received == 236 and rx.counters.bad_packet == 0
    assert not any(a.concealed for a in audio)  # a clean capture needs no concealment
    pcm = np.concatenate([to_pcm16(a.payload, "alaw") for a in audio])
    assert abs(len(pcm) / 8000 - 236 * 0.030) < 0.001  # 30 ms frames, nothing lost or doubled
    quiet, speech = np.abs(pcm[:4000]).mean(), np.abs(pcm[8000:]).mean()
    assert speech > 10 * quiet  # first 0.6 s near silent, then real audio


def test_real_capture_g711a_with_loss_and_reordering() -> None:
    packets = [p for _, p in read_pcap_udp(realdata("sip", "g711a.pcap"))]
    rng = np.random.default_rng(7)
    kept = [p for i, p in enumerate(packets) if i % 20 != 10]  # 5% loss
    for i in range(0, len(kept) - 1, 7):  # and some reordering
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    rng.shuffle(kept[100:103])
    rx = receiver(8, depth_ms=90)
    audio = [e for d in kept for e in rx.receive(d, SRC) if isinstance(e, RtpAudio)] + [
        e for e in rx.drain() if isinstance(e, RtpAudio)]
    samples = sum(len(a.payload) for a in audio)
    assert abs(samples - 236 * 240) <= 240  # the timeline is whole again: losses concealed
    assert rx.jitter.stats.concealed >= 2 * len([i for i in range(236) if i % 20 == 10])  # 30 ms = 20+10


def test_real_capture_dtmf_digit_1_once() -> None:
    _, events = replay("dtmf_2833_1.pcap", 8)
    assert [e.digit for e in events if isinstance(e, RtpDtmf)] == ["1"]


def test_real_capture_dtmf_pound_once() -> None:
    _, events = replay("dtmf_2833_pound.pcap", 8)
    assert [e.digit for e in events if isinstance(e, RtpDtmf)] == ["#"]
