"""A real SIP phone (Debian baresip) calls the gateway's SIP endpoint on loopback.

Protocol level: the session is the scripted one from conftest (no models), so this proves SIP,
SDP, RTP both ways, RFC 4733 DTMF and REFER transfer against a real phone. The same call through
the real gateway (ASR and TTS) is in test_e2e_gateway_sip.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gateway.protocol.sip.message import SipRequest, SipResponse, parse_message
from gateway.telephony import PhoneSettings
from gateway.transports.phone_sip import SipEndpoint
from tests.phone.baresip_peer import Baresip, best_alignment, free_port, read_wav, require_baresip, write_wav
from tests.phone.conftest import REALDATA, ScriptedFactory

pytestmark = pytest.mark.e2e


def caller_audio(seconds: int) -> np.ndarray:
    """A real 8 kHz recording when realdata is present (else a synthetic sweep), padded with
    silence past the call's length: baresip hangs up when its file ends."""
    path = REALDATA / "speech" / "OSR_us_000_0034_8k.wav"
    if path.exists():
        speech = read_wav(path)[: 8000 * 10]
    else:
        t = np.arange(8000 * 10) / 8000
        speech = (6000 * np.sin(2 * np.pi * (200 + 150 * t) * t)).astype(np.int16)
    return np.concatenate([speech, np.zeros(8000 * seconds, dtype=np.int16)])


class AgentPhone(asyncio.DatagramProtocol):
    """Stands in for the agent's phone: records the requests a transfer sends it and declines
    the call (so the phone's INVITE transaction ends and it can exit on time)."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests.append(data.split(b"\r\n", 1)[0])
        msg = parse_message(data)
        if isinstance(msg, SipRequest) and msg.method == "INVITE" and self.transport is not None:
            headers = tuple((k, v if k != "To" else f"{v};tag=agent") for k, v in msg.headers
                            if k in ("Via", "From", "To", "Call-ID", "CSeq"))
            self.transport.sendto(SipResponse(headers, status=603, reason="Decline").to_bytes(), addr)


async def wait_for(predicate: Callable[[], bool], seconds: float) -> None:
    """Polls state another component changes (no event to wait on across the phone's process)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s")
        await asyncio.sleep(0.05)


async def test_baresip_call_audio_both_ways_dtmf_and_transfer(tmp_path: Path) -> None:
    require_baresip()
    source = tmp_path / "IN.wav"
    pcm = caller_audio(30)
    write_wav(source, pcm)
    agent_port = free_port()
    loop = asyncio.get_running_loop()
    agent_transport, agent = await loop.create_datagram_endpoint(
        AgentPhone, local_addr=("127.0.0.1", agent_port))
    factory = ScriptedFactory()
    endpoint = SipEndpoint(factory, PhoneSettings(agent_uri=f"sip:agent@127.0.0.1:{agent_port}",
                                                  handoff_grace_ms=2000))
    port = await endpoint.start(port=0)
    phone = Baresip(tmp_path, source, seconds=14)
    try:
        await phone.dial(f"sip:gw@127.0.0.1:{port}")
        await asyncio.wait_for(factory.opened.wait(), 10)
        session = factory.sessions[0]
        assert session.request.audio.encoding in ("mulaw", "alaw")
        await wait_for(lambda: len(session.audio) >= 8000 * 4, 10)  # 4 s of caller audio heard
        assert (await phone.command("sndcode", "1"))["ok"]  # echo what was heard
        await wait_for(lambda: 1 in session.marks, 8)  # the echo was played out in full
        assert (await phone.command("sndcode", "0"))["ok"]  # 0 = a person
        await wait_for(lambda: any(b"INVITE sip:agent@" in r for r in agent.requests), 8)
        await phone.wait(20)
    finally:
        await endpoint.aclose()
        agent_transport.close()
    # DTMF: each digit exactly once, in order (the three redundant end packets de-duplicated)
    assert session.dtmf == ["1", "0"]
    # caller -> gateway: the real recording arrived intact (G.711 both ways keeps correlation ~1)
    heard = session.pcm()
    _, corr = best_alignment(pcm, heard[8000:24000], 16000)
    assert corr > 0.95, f"caller audio correlation {corr:.3f}"
    # gateway -> caller: baresip heard our echo of its first 3 s
    played = phone.heard()
    voiced = np.flatnonzero(np.abs(played) > 500)
    assert voiced.size > 8000, "baresip heard (almost) nothing"
    # the echo is the first 3 s heard, then a 660 Hz tone announces the transfer: compare 1.5 s
    _, echo_corr = best_alignment(pcm, played[voiced[0]: voiced[0] + 12000], 12000)
    assert echo_corr > 0.9, f"reply audio correlation {echo_corr:.3f}"
    # transfer: REFER accepted by the phone, which then called the agent URI
    assert any(t.status == 202 for t in endpoint.transfers)
    assert endpoint.counters.unknown_source == 0 and endpoint.counters.received > 500
    assert session.closed is not None
