"""Protocol-accurate test callers for each phone wire, written from the wire formats: what a
carrier (Twilio-style), Asterisk (AudioSocket, chan_websocket) or a SIP phone sends. Used by
`gateway bench phone`, `gateway sip-call` and the tests.

Every caller takes 20 ms PCM16 8 kHz frames, sends them in its wire format, and records when
reply audio first arrives (loop time) and what it heard (PCM16).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import struct
import uuid
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.protocol.audiosocket import AsAudio, AsHangup, AudioSocketParser, encode_frame
from gateway.protocol.rtp import RtpSender, TelephoneEvent, parse_packet
from gateway.protocol.sip.message import SipRequest, SipResponse, parse_message, parse_name_addr
from gateway.protocol.sip.sdp import negotiate, parse_sdp
from gateway.telephony import from_pcm16, to_pcm16


@dataclass
class Heard:
    first_reply_at: float | None = None
    audio: bytearray = field(default_factory=bytearray)  # PCM16 of every reply frame
    hung_up: bool = False
    marks: list[str] = field(default_factory=list)
    clears: int = 0

    def add(self, pcm16: bytes) -> None:
        if self.first_reply_at is None:
            self.first_reply_at = asyncio.get_running_loop().time()
        self.audio += pcm16


async def _send(ws: ClientConnection, data: str | bytes, heard: Heard) -> None:
    """The far end may hang up between two frames: the caller notes it and stops, never crashes."""
    try:
        await ws.send(data)
    except ConnectionClosed:
        heard.hung_up = True


class TwilioCaller:
    def __init__(self, url: str, **params: str) -> None:
        self.url, self.params, self.heard = url, params, Heard()
        self.sid = f"MZ{uuid.uuid4().hex}"
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ts = 0

    async def connect(self) -> None:
        self._ws = await connect(self.url)
        await self._ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await self._ws.send(json.dumps({"event": "start", "streamSid": self.sid, "start": {
            "streamSid": self.sid, "callSid": f"CA{uuid.uuid4().hex}", "accountSid": "AC0",
            "tracks": ["inbound"], "customParameters": self.params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(Exception):
            async for message in self._ws:
                msg = json.loads(message)
                if msg.get("event") == "media":
                    self.heard.add(to_pcm16(base64.b64decode(msg["media"]["payload"]), "mulaw").tobytes())
                elif msg.get("event") == "mark":  # played at once: echo it back, as Twilio does
                    self.heard.marks.append(msg["mark"]["name"])
                    await self._ws.send(json.dumps({"event": "mark", "streamSid": self.sid,
                                                    "mark": msg["mark"]}))
                elif msg.get("event") == "clear":
                    self.heard.clears += 1
        self.heard.hung_up = True

    async def send(self, pcm: np.ndarray) -> None:
        assert self._ws is not None
        self._ts += 20
        await _send(self._ws, json.dumps({"event": "media", "streamSid": self.sid, "media": {
            "track": "inbound", "timestamp": str(self._ts),
            "payload": base64.b64encode(from_pcm16(pcm, "mulaw")).decode()}}), self.heard)

    async def dtmf(self, digit: str) -> None:
        assert self._ws is not None
        await _send(self._ws, json.dumps({"event": "dtmf", "streamSid": self.sid, "dtmf": {"digit": digit}}),
                    self.heard)

    async def hangup(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.send(json.dumps({"event": "stop", "streamSid": self.sid, "stop": {}}))
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class ChanWebsocketCaller:
    def __init__(self, url: str) -> None:
        self.url, self.heard = url, Heard()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._ws = await connect(self.url)
        await self._ws.send(f"MEDIA_START connection_id:{uuid.uuid4().hex[:8]} channel:WebSocket/bench "
                            "format:ulaw optimal_frame_size:160 ptime:20")
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(Exception):
            async for message in self._ws:
                if isinstance(message, bytes):
                    self.heard.add(to_pcm16(message, "mulaw").tobytes())
                elif message == "FLUSH_MEDIA":
                    self.heard.clears += 1
        self.heard.hung_up = True

    async def send(self, pcm: np.ndarray) -> None:
        assert self._ws is not None
        await _send(self._ws, from_pcm16(pcm, "mulaw"), self.heard)

    async def dtmf(self, digit: str) -> None:
        assert self._ws is not None
        await _send(self._ws, f"DTMF_END digit:{digit}", self.heard)

    async def hangup(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class AudioSocketCaller:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.heard = host, port, Heard()
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(encode_frame(0x01, uuid.uuid4().bytes))
        self._reader = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        parser = AudioSocketParser(max_payload=4096, need_call_id=False)
        with contextlib.suppress(Exception):
            while data := await reader.read(4096):
                for event in parser.feed(data):
                    if isinstance(event, AsAudio):
                        self.heard.add(event.pcm)
                    elif isinstance(event, AsHangup):
                        self.heard.hung_up = True
        self.heard.hung_up = True

    async def send(self, pcm: np.ndarray) -> None:
        assert self._writer is not None
        self._writer.write(encode_frame(0x10, pcm.astype("<i2").tobytes()))
        await self._writer.drain()

    async def dtmf(self, digit: str) -> None:
        assert self._writer is not None
        self._writer.write(encode_frame(0x03, digit.encode()))

    async def hangup(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(encode_frame(0x00))
                await self._writer.drain()
            self._writer.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue(1000)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((data, addr))


class SipCaller:
    """A minimal SIP UAC: INVITE with a PCMU/PCMA + telephone-event offer, ACK, RTP both ways,
    RFC 4733 DTMF, BYE; answers BYE/REFER/NOTIFY from the gateway."""

    def __init__(self, host: str, port: int, *, codec: str = "PCMU") -> None:
        self.target = (host, port)
        self.codec = codec
        self.heard = Heard()
        self.refer_to: str | None = None
        self._rng = random.Random()
        self._sip: _Udp | None = None
        self._rtp: _Udp | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._remote_rtp: tuple[str, int] | None = None
        self._sender = RtpSender(0 if codec == "PCMU" else 8, self._rng.getrandbits(32))
        self._media_ms = 0
        self._dialog: tuple[str, str, str] | None = None  # (From with tag, To with tag, remote target)
        self._call_id = uuid.uuid4().hex
        self._cseq = 1

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, self._sip = await loop.create_datagram_endpoint(_Udp, local_addr=("127.0.0.1", 0))
        _, self._rtp = await loop.create_datagram_endpoint(_Udp, local_addr=("127.0.0.1", 0))
        assert self._sip.transport is not None and self._rtp.transport is not None
        sip_port = self._sip.transport.get_extra_info("sockname")[1]
        rtp_port = self._rtp.transport.get_extra_info("sockname")[1]
        pt = 0 if self.codec == "PCMU" else 8
        sdp = (f"v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               f"m=audio {rtp_port} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {self.codec}/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n"
               "a=sendrecv\r\n").encode()
        from_ = f"<sip:caller@127.0.0.1:{sip_port}>;tag={self._rng.getrandbits(32):x}"
        to = f"<sip:gw@{self.target[0]}:{self.target[1]}>"
        invite = SipRequest((
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{sip_port};branch=z9hG4bK{self._rng.getrandbits(48):x};rport"),
            ("Max-Forwards", "70"), ("From", from_), ("To", to), ("Call-ID", self._call_id),
            ("CSeq", "1 INVITE"), ("Contact", f"<sip:caller@127.0.0.1:{sip_port}>"),
            ("Content-Type", "application/sdp")), sdp, method="INVITE",
            uri=f"sip:gw@{self.target[0]}:{self.target[1]}")
        self._sip.transport.sendto(invite.to_bytes(), self.target)
        async with asyncio.timeout(10):
            while True:
                data, _ = await self._sip.queue.get()
                msg = parse_message(data)
                if isinstance(msg, SipResponse) and msg.status >= 200:
                    break
        if msg.status != 200:
            raise ConnectionError(f"call refused: {msg.status} {msg.reason}")
        media = negotiate(parse_sdp(msg.body))
        self._remote_rtp = media.remote
        contact = msg.header("Contact")
        target = parse_name_addr(contact).uri if contact else invite.uri
        self._dialog = (from_, msg.need("To"), target)
        self._send_request("ACK", cseq=1)
        self._tasks = [asyncio.create_task(self._read_rtp()), asyncio.create_task(self._read_sip())]

    def _send_request(self, method: str, *, cseq: int | None = None, extra: tuple[tuple[str, str], ...] = (),
                      body: bytes = b"") -> None:
        assert self._sip is not None and self._sip.transport is not None and self._dialog is not None
        if cseq is None:
            self._cseq += 1
            cseq = self._cseq
        port = self._sip.transport.get_extra_info("sockname")[1]
        from_, to, target = self._dialog
        req = SipRequest((
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{self._rng.getrandbits(48):x};rport"),
            ("Max-Forwards", "70"), ("From", from_), ("To", to), ("Call-ID", self._call_id),
            ("CSeq", f"{cseq} {method}"), *extra), body, method=method, uri=target)
        self._sip.transport.sendto(req.to_bytes(), self.target)

    async def _read_sip(self) -> None:
        assert self._sip is not None and self._sip.transport is not None
        while True:
            data, addr = await self._sip.queue.get()
            msg = parse_message(data)
            if not isinstance(msg, SipRequest):
                continue
            headers = tuple((k, v) for k, v in msg.headers if k in ("Via", "From", "To", "Call-ID", "CSeq"))
            status = 202 if msg.method == "REFER" else 200
            self._sip.transport.sendto(SipResponse(headers, status=status, reason="OK").to_bytes(), addr)
            if msg.method == "BYE":
                self.heard.hung_up = True
            elif msg.method == "REFER":
                self.refer_to = msg.header("Refer-To")

    async def _read_rtp(self) -> None:
        assert self._rtp is not None
        enc = "mulaw" if self.codec == "PCMU" else "alaw"
        while True:
            data, _ = await self._rtp.queue.get()
            self.heard.add(to_pcm16(parse_packet(data).payload, enc).tobytes())

    async def send(self, pcm: np.ndarray) -> None:
        assert self._rtp is not None and self._rtp.transport is not None and self._remote_rtp is not None
        enc = "mulaw" if self.codec == "PCMU" else "alaw"
        packet = self._sender.packet(from_pcm16(pcm, enc), self._media_ms)
        self._rtp.transport.sendto(packet, self._remote_rtp)
        self._media_ms += 20

    async def dtmf(self, digit: str) -> None:
        assert self._rtp is not None and self._rtp.transport is not None and self._remote_rtp is not None
        event = "0123456789*#".index(digit)
        ts = self._media_ms * 8
        for i, end in enumerate((False, False, True, True, True)):
            payload = TelephoneEvent(event, end, 10, 160 * (min(i, 2) + 1)).to_bytes()
            pkt = struct.pack("!BBHII", 0x80, 101 | (0x80 if i == 0 else 0), self._rng.getrandbits(16), ts,
                              self._sender.ssrc) + payload
            self._rtp.transport.sendto(pkt, self._remote_rtp)

    async def hangup(self) -> None:
        if self._dialog is not None and not self.heard.hung_up:
            self._send_request("BYE")
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for udp in (self._sip, self._rtp):
            if udp is not None and udp.transport is not None:
                udp.transport.close()


PhoneCaller = TwilioCaller | ChanWebsocketCaller | AudioSocketCaller | SipCaller
