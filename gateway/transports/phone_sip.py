"""SIP endpoint over UDP with one RTP socket pair per call: `SipEndpoint(factory, settings)`.

The sans-I/O `SipUas` does the signalling; this shell owns the sockets and the clock. Each
answered call gets an RTP port; inbound RTP is accepted only from the address the SDP named,
goes through the jitter buffer (with loss concealment) and RFC 4733 DTMF, and reaches the session
through `run_call`; reply frames go out as RTP paced on the call's media clock. A handoff
sends REFER to `agent_uri`; once the transfer succeeds we hang up our leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from gateway.errors import GatewayError
from gateway.events import AudioFormat
from gateway.ports import SessionFactory, SessionRequest
from gateway.protocol.rtp import JitterBuffer, RtpAudio, RtpCounters, RtpReceiver, RtpSender
from gateway.protocol.sip.uas import (
    Addr,
    CallEnded,
    CallOffered,
    SendDatagram,
    SipDtmf,
    SipError,
    SipOutput,
    SipUas,
    TransferUpdate,
    UasConfig,
    call_params,
)
from gateway.telephony import (
    DEFAULT_SETTINGS,
    CallBridge,
    PhoneDtmf,
    PhoneHangup,
    PhoneInput,
    PhoneSettings,
    TelephonyFrame,
    Transfer,
    g711_conceal,
)
from gateway.transports.phone_bridge import CallStats, run_call

log = logging.getLogger("gateway.phone.sip")
TICK_S = 0.1
INPUT_QUEUE = 250  # 5 s of 20 ms frames; beyond that the session is not keeping up: drop


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Addr], None]) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.on_datagram(data, (str(addr[0]), int(addr[1])))


@dataclass
class _Call:
    offer: CallOffered
    rtp: _Datagrams
    receiver: RtpReceiver
    inputs: asyncio.Queue[PhoneInput] = field(default_factory=lambda: asyncio.Queue(INPUT_QUEUE))
    dropped: int = 0
    first_ts: int | None = None
    ended: bool = False  # the SIP dialog is over (BYE either way)
    bridge: CallBridge | None = None

    def put(self, item: PhoneInput) -> None:
        try:
            self.inputs.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    def on_rtp(self, data: bytes, source: Addr) -> None:
        for event in self.receiver.receive(data, source):
            if isinstance(event, RtpAudio):
                if self.first_ts is None:
                    self.first_ts = event.timestamp
                self.put(TelephonyFrame(event.payload, (event.timestamp - self.first_ts) // 8))
            else:
                self.put(PhoneDtmf(event.digit))


class SipEndpoint:
    def __init__(self, factory: SessionFactory, settings: PhoneSettings = DEFAULT_SETTINGS, *,
                 rng: random.Random | None = None) -> None:
        self.factory = factory
        self.settings = settings
        self.rng = rng or random.Random()
        self.uas: SipUas | None = None
        self.calls: dict[str, _Call] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.finished: list[CallStats] = []  # recent calls, newest last (bounded)
        self.counters = RtpCounters()
        self.transfers: list[TransferUpdate] = []
        self.errors: list[str] = []  # codes of refused SIP messages, newest last (bounded)
        self._sip: _Datagrams | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._start = 0.0

    def _now(self) -> int:
        return int((asyncio.get_running_loop().time() - self._start) * 1000)

    async def start(self, port: int | None = None) -> int:
        loop = asyncio.get_running_loop()
        self._start = loop.time()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._on_sip), local_addr=(self.settings.sip_host,
                                                          self.settings.sip_port if port is None else port))
        self._sip = proto
        bound = int(transport.get_extra_info("sockname")[1])
        self.uas = SipUas(UasConfig(self.settings.sip_host, bound, codecs=self.settings.sip_codecs,
                                    max_calls=self.settings.max_calls), rng=self.rng)
        self._ticker = asyncio.create_task(self._tick())
        return bound

    async def aclose(self) -> None:
        for call_id in list(self.calls):
            self.hangup(call_id)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._sip is not None and self._sip.transport is not None:
            self._sip.transport.close()

    @property
    def _uas(self) -> SipUas:
        assert self.uas is not None, "SipEndpoint.start() first"
        return self.uas

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._handle(self._uas.tick(self._now()))

    def _on_sip(self, data: bytes, source: Addr) -> None:
        self._handle(self._uas.receive(data, source, self._now()))

    def _handle(self, outputs: list[SipOutput]) -> None:
        for out in outputs:
            if isinstance(out, SendDatagram):
                if self._sip is not None and self._sip.transport is not None:
                    self._sip.transport.sendto(out.data, out.addr)
            elif isinstance(out, CallOffered):
                task = asyncio.create_task(self._run(out))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif isinstance(out, CallEnded):
                call = self.calls.get(out.call_id)
                if call is not None:
                    call.ended = True
                    call.put(PhoneHangup(out.reason))
            elif isinstance(out, SipDtmf):
                if out.call_id in self.calls:
                    self.calls[out.call_id].put(PhoneDtmf(out.digit))
            elif isinstance(out, TransferUpdate):
                self.transfers = [*self.transfers[-31:], out]
                log.info("transfer of %s: %s", out.call_id, out.status)
                call = self.calls.get(out.call_id)
                if call is not None and out.final and 200 <= out.status < 300:
                    call.put(PhoneHangup("transferred"))
            elif isinstance(out, SipError):
                self.errors = [*self.errors[-63:], out.error.code]
                log.warning("SIP message from %s refused: %s (%s)", out.source, out.error.code,
                            out.error.message)

    async def _open_rtp(self) -> _Datagrams:
        """Bind an even port in the configured range (RTCP would take the odd one above); its
        datagrams are ignored until the call is set up."""
        loop = asyncio.get_running_loop()
        lo, hi = self.settings.rtp_port_min, self.settings.rtp_port_max
        start = lo + 2 * self.rng.randrange((hi - lo) // 2)
        for i in range(0, hi - lo, 2):
            port = lo + (start - lo + i) % (hi - lo)
            with contextlib.suppress(OSError):
                _, proto = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(lambda data, source: None), local_addr=(self.settings.sip_host, port))
                return proto
        raise GatewayError("no free RTP port", code="rtp-no-port")

    async def _run(self, offer: CallOffered) -> None:
        media = offer.media
        audio = AudioFormat(media.encoding, 8000)
        try:
            rtp = await self._open_rtp()
        except GatewayError:
            self._handle(self._uas.reject(offer.call_id, 503))
            return
        receiver = RtpReceiver(media.remote, media.payload_type, media.dtmf_payload_type,
                               JitterBuffer(g711_conceal(media.encoding), depth_ms=self.settings.jitter_ms))
        call = _Call(offer, rtp, receiver)
        rtp.on_datagram = call.on_rtp
        try:
            session = await self.factory.open(SessionRequest(
                channel="phone", audio=audio, params=call_params(offer), source=offer.source[0]))
        except GatewayError as exc:
            log.warning("SIP call refused: %s", exc.code)
            status = {"busy": 486, "bridge-source-forbidden": 403}.get(exc.code, 503)
            self._handle(self._uas.reject(offer.call_id, status))
            self._close_rtp(call)
            return
        if offer.call_id not in self._uas.calls:  # cancelled while the session opened
            await session.close("cancelled")
            self._close_rtp(call)
            return
        self.calls[offer.call_id] = call
        assert rtp.transport is not None
        local = rtp.transport.get_extra_info("sockname")
        self._handle(self._uas.answer(offer.call_id, (self.settings.sip_host, int(local[1])), self._now()))
        sender = RtpSender(media.payload_type, self.rng.getrandbits(32),
                           seq=self.rng.getrandbits(16), timestamp=self.rng.getrandbits(32))
        wire = _SipWire(self, call, sender)
        bridge = call.bridge = CallBridge(audio, lead_ms=0, handoff_grace_ms=self.settings.handoff_grace_ms)
        try:
            stats = await run_call(session, _queue_inputs(call), wire, bridge)
            self.finished = [*self.finished[-31:], stats]
        finally:
            self.calls.pop(offer.call_id, None)
            c = call.receiver.counters
            self.counters.received += c.received
            self.counters.unknown_source += c.unknown_source
            self.counters.bad_packet += c.bad_packet
            self._close_rtp(call)

    def transfer(self, call_id: str) -> None:
        self._handle(self._uas.refer(call_id, self.settings.agent_uri, self._now()))

    def hangup(self, call_id: str) -> None:
        self._handle(self._uas.hangup(call_id, self._now()))

    @staticmethod
    def _close_rtp(call: _Call) -> None:
        if call.rtp.transport is not None:
            call.rtp.transport.close()


async def _queue_inputs(call: _Call) -> AsyncIterator[PhoneInput]:
    while True:
        yield await call.inputs.get()


class _SipWire:
    def __init__(self, endpoint: SipEndpoint, call: _Call, sender: RtpSender) -> None:
        self.endpoint, self.call, self.sender = endpoint, call, sender

    async def play(self, frame: TelephonyFrame) -> None:
        transport = self.call.rtp.transport
        if transport is None or transport.is_closing():
            raise ConnectionError("RTP socket closed")
        transport.sendto(self.sender.packet(frame.audio, frame.media_time_ms), self.call.offer.media.remote)

    async def clear(self) -> None:
        return None  # RTP has no far-end queue: we simply stop sending

    async def mark(self, name: str) -> None:
        return None

    async def transfer(self, command: Transfer) -> bool:
        self.endpoint.transfer(self.call.offer.call_id)
        return False  # the call goes on until the phone reports the transfer (NOTIFY) or hangs up

    async def hangup(self, reason: str) -> None:
        if not self.call.ended:
            self.call.ended = True
            self.endpoint.hangup(self.call.offer.call_id)
