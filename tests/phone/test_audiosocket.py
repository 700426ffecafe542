"""Asterisk AudioSocket: the frame parser, then the TCP server with a client written from the
wire format (kind | length BE16 | payload; 0x01 uuid, 0x10 slin, 0x03 dtmf, 0x00 hangup)."""

from __future__ import annotations

import asyncio
import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.protocol.audiosocket import (
    AsAudio,
    AsCallId,
    AsDtmf,
    AsHangup,
    AsInvalid,
    AudioSocketParser,
    encode_frame,
)
from gateway.telephony import PhoneSettings
from gateway.transports.phone_audiosocket import AudioSocketServer
from tests.phone.conftest import ScriptedFactory

CALL = uuid.UUID("12345678-1234-5678-1234-567812345678")


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def test_parser_handles_split_frames() -> None:
    data = frame(1, CALL.bytes) + frame(0x10, b"\x01\x00" * 160) + frame(3, b"5") + frame(0)
    parser = AudioSocketParser()
    events = [e for i in range(0, len(data), 7) for e in parser.feed(data[i:i + 7])]
    assert events == [AsCallId(str(CALL)), AsAudio(b"\x01\x00" * 160), AsDtmf("5"), AsHangup()]
    parser.eof()


def test_oversized_frame_is_refused_before_buffering() -> None:
    parser = AudioSocketParser(max_payload=2048)
    parser.feed(frame(1, CALL.bytes))
    with pytest.raises(GatewayError) as info:
        parser.feed(struct.pack(">BH", 0x10, 60000))
    assert info.value.code == "audiosocket-frame-too-large"


def test_truncated_frame_at_eof() -> None:
    parser = AudioSocketParser()
    parser.feed(frame(1, CALL.bytes) + frame(0x10, b"\x00" * 320)[:100])
    with pytest.raises(GatewayError) as info:
        parser.eof()
    assert info.value.code == "audiosocket-truncated"


def test_malformed_frames_are_skipped_not_fatal() -> None:
    parser = AudioSocketParser()
    events = parser.feed(frame(0x10, b"\x00\x00") + frame(1, b"short") + frame(1, CALL.bytes)
                         + frame(3, b"xy")
                         + frame(0x42, b"") + frame(0x10, b"\x00\x00\x00") + frame(0x10, b"\x00\x00"))
    codes = [e.error.code for e in events if isinstance(e, AsInvalid)]
    assert codes == ["audiosocket-no-uuid", "protocol-bad-frame", "protocol-bad-frame",
                     "audiosocket-unknown-kind", "protocol-bad-frame"]
    assert events[-1] == AsAudio(b"\x00\x00")


def test_gateway_side_frames_parse_without_call_id() -> None:
    parser = AudioSocketParser(need_call_id=False)
    assert parser.feed(frame(0x10, b"\x01\x00") + frame(0)) == [AsAudio(b"\x01\x00"), AsHangup()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_parser_fuzz(chunks: list[bytes]) -> None:
    parser = AudioSocketParser(max_payload=256)
    try:
        for chunk in chunks:
            parser.feed(chunk)
        parser.eof()
    except GatewayError:
        pass
    assert len(parser._buf) <= 256 + 3 + 300  # never more than one capped frame plus one read


def test_encode_frame_caps() -> None:
    assert encode_frame(0x10, b"ab") == b"\x10\x00\x02ab"
    with pytest.raises(GatewayError):
        encode_frame(0x10, b"\x00" * 70000)


# -- transport ------------------------------------------------------------------------------------

async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind, length = struct.unpack(">BH", await reader.readexactly(3))
    return kind, await reader.readexactly(length)


async def start(
        factory: ScriptedFactory) -> tuple[AudioSocketServer, asyncio.StreamReader, asyncio.StreamWriter]:
    server = AudioSocketServer(factory, PhoneSettings(handoff_grace_ms=300))
    port = await server.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame(1, CALL.bytes))
    await asyncio.wait_for(factory.opened.wait(), 5)
    return server, reader, writer


async def test_call_audio_dtmf_paced_reply_and_hangup(factory: ScriptedFactory) -> None:
    server, reader, writer = await start(factory)
    try:
        session = factory.sessions[0]
        assert session.request.audio.encoding == "pcm16" and session.request.params["call_id"] == str(CALL)
        pcm = b"".join(struct.pack("<h", i) * 160 for i in range(10))
        for i in range(0, len(pcm), 320):
            writer.write(frame(0x10, pcm[i:i + 320]))
        writer.write(frame(3, b"2"))  # scripted: a 2 s tone
        loop = asyncio.get_running_loop()
        arrivals = []
        for _ in range(30):
            kind, payload = await asyncio.wait_for(read_frame(reader), 3)
            assert kind == 0x10 and len(payload) == 320
            arrivals.append(loop.time())
        span = arrivals[-1] - arrivals[0]
        assert 0.45 < span < 0.75, f"30 frames took {span:.3f} s: not paced at 20 ms"
        writer.write(frame(0))
        await writer.drain()
        await asyncio.wait_for(session.ended.wait(), 5)
        assert bytes(session.audio) == pcm and session.dtmf == ["2"] and session.closed == "caller-hangup"
    finally:
        writer.close()
        await server.aclose()


async def test_barge_in_stops_frames_quickly(factory: ScriptedFactory) -> None:
    server, reader, writer = await start(factory)
    try:
        session = factory.sessions[0]
        writer.write(frame(3, b"2"))
        await asyncio.wait_for(read_frame(reader), 3)
        session.barge_in()
        loop = asyncio.get_running_loop()
        t0, last = loop.time(), loop.time()
        with pytest.raises(TimeoutError):
            while True:
                await asyncio.wait_for(read_frame(reader), 0.3)
                last = loop.time()
        assert (last - t0) * 1000 < 200, "frames kept coming after the barge-in"
    finally:
        writer.close()
        await server.aclose()


async def test_handoff_hangs_up_with_hangup_frame(factory: ScriptedFactory) -> None:
    server, reader, writer = await start(factory)
    try:
        writer.write(frame(3, b"0"))
        async with asyncio.timeout(5):
            while (await read_frame(reader))[0] != 0x00:
                pass
            await factory.sessions[0].ended.wait()
        assert factory.sessions[0].closed == "handoff-dtmf"
    finally:
        writer.close()
        await server.aclose()


async def test_oversized_frame_ends_only_that_call(factory: ScriptedFactory) -> None:
    server, _, writer = await start(factory)
    port = server.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(frame(1, uuid.uuid4().bytes))
        writer.write(struct.pack(">BH", 0x10, 65000) + b"\x00" * 100)
        await asyncio.wait_for(factory.sessions[0].ended.wait(), 5)
        assert factory.sessions[0].closed == "audiosocket-frame-too-large"
        w2.write(frame(3, b"2"))
        kind, _ = await asyncio.wait_for(read_frame(r2), 3)  # the other call still answers
        assert kind == 0x10
        w2.close()
    finally:
        writer.close()
        await server.aclose()


async def test_truncated_frame_at_close_ends_call_cleanly(factory: ScriptedFactory) -> None:
    server, _, writer = await start(factory)
    try:
        writer.write(frame(0x10, b"\x00" * 320)[:50])
        await writer.drain()
        writer.close()
        await asyncio.wait_for(factory.sessions[0].ended.wait(), 5)
        assert factory.sessions[0].closed == "audiosocket-truncated"
    finally:
        await server.aclose()


async def test_unstarted_connections_count_toward_the_connection_cap(factory: ScriptedFactory) -> None:
    server = AudioSocketServer(factory, PhoneSettings(), max_connections=2)
    port = await server.start("127.0.0.1", 0)
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]  # no call id: unstarted
    try:
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the third is closed at once
        writer.close()
    finally:
        for _, w in idle:
            w.close()
        await server.aclose()
