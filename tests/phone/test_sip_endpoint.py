"""The SIP endpoint over real UDP sockets with the protocol-accurate SipCaller: barge-in stops
RTP at once, RTP from an unknown source is dropped and counted, malformed SIP and an offer with
no common codec are refused without disturbing a call in progress."""

from __future__ import annotations

import asyncio
import socket

import numpy as np

from gateway.protocol.rtp import RtpSender
from gateway.telephony import PhoneSettings
from gateway.transports.phone_callers import SipCaller
from gateway.transports.phone_sip import SipEndpoint
from tests.phone.conftest import ScriptedFactory

SILENCE = np.zeros(160, np.int16)


async def talk(caller: SipCaller, ms: int) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(ms // 20):
        await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
        await caller.send(SILENCE)


async def test_barge_in_stops_rtp_within_200_ms(factory: ScriptedFactory) -> None:
    endpoint = SipEndpoint(factory, PhoneSettings())
    caller = SipCaller("127.0.0.1", await endpoint.start(port=0))
    try:
        await caller.connect()
        await talk(caller, 200)
        await caller.dtmf("2")  # scripted: a 2 s tone
        await talk(caller, 400)
        assert caller.heard.first_reply_at is not None
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        factory.sessions[0].barge_in()
        size = len(caller.heard.audio)
        await talk(caller, 600)
        last_growth = len(caller.heard.audio) - size
        assert last_growth <= 320 * 10, "RTP went on after the barge-in"  # at most 200 ms of frames
        assert loop.time() - t0 >= 0.5
    finally:
        await caller.hangup()
        await endpoint.aclose()


async def test_rtp_from_unknown_source_is_dropped(factory: ScriptedFactory) -> None:
    endpoint = SipEndpoint(factory, PhoneSettings())
    caller = SipCaller("127.0.0.1", await endpoint.start(port=0))
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        await caller.connect()
        await talk(caller, 200)
        call = next(iter(endpoint.calls.values()))
        assert call.rtp.transport is not None
        rtp_port = call.rtp.transport.get_extra_info("sockname")[1]
        spoof = RtpSender(0, 0xBAD)
        intruder.bind(("127.0.0.1", 0))
        for i in range(20):
            intruder.sendto(spoof.packet(b"\x00" * 160, i * 20), ("127.0.0.1", rtp_port))
        await talk(caller, 300)
        assert call.receiver.counters.unknown_source == 20
        assert 0 not in bytes(factory.sessions[0].audio)  # nothing of the intruder reached the session
        assert len(factory.sessions[0].audio) >= 160 * 15
    finally:
        intruder.close()
        await caller.hangup()
        await endpoint.aclose()


async def test_bad_sip_and_bad_offer_do_not_disturb_a_call(factory: ScriptedFactory) -> None:
    endpoint = SipEndpoint(factory, PhoneSettings(sip_codecs=("PCMU",)))
    port = await endpoint.start(port=0)
    caller = SipCaller("127.0.0.1", port)
    other = SipCaller("127.0.0.1", port, codec="PCMA")  # offers PCMA only: no common codec
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        await caller.connect()
        raw.sendto(b"INVITE nonsense\r\n\r\n", ("127.0.0.1", port))
        raw.sendto(b"\x00\xff" * 700, ("127.0.0.1", port))
        raw.sendto(b"OPTIONS sip:gw@h SIP/2.0\r\n" + b"X: y\r\n" * 100 + b"\r\n", ("127.0.0.1", port))
        try:
            await other.connect()
            raise AssertionError("a call with no common codec was answered")
        except ConnectionError as exc:
            assert "488" in str(exc)
        await caller.dtmf("2")
        await talk(caller, 400)
        assert caller.heard.first_reply_at is not None  # the first call still answers
        assert {"sip-bad-request", "sip-too-large", "sdp-no-common-codec"} <= set(endpoint.errors)
    finally:
        raw.close()
        await other.hangup()
        await caller.hangup()
        await endpoint.aclose()


async def test_phone_services_start_and_stop_on_free_ports(factory: ScriptedFactory) -> None:
    from gateway.transports.phone_services import PhoneServices

    settings = PhoneSettings(sip_port=0, audiosocket_port=0)  # 0: any free port
    services = await PhoneServices.start(factory, settings, websocket_port=0)
    try:
        assert services.sip_port and services.audiosocket_port and services.websocket_port
        caller = SipCaller("127.0.0.1", services.sip_port)
        await caller.connect()
        await caller.hangup()
    finally:
        await services.aclose()
