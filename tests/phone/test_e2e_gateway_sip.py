"""A real SIP phone (Debian baresip) calls the real gateway (VAD, ASR, knowledge-base core, TTS)
through the SIP endpoint: the caller's spoken question is transcribed and stored, the spoken
reply reaches the phone (recorded by baresip and transcribed back), DTMF 0 transfers by REFER."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.store.transcripts import read_transcript
from gateway.telephony import PhoneSettings
from gateway.transports.phone_sip import SipEndpoint
from modalities.audio.files import read_audio
from modalities.audio.resample import resample
from tests.conftest import SAMPLES
from tests.phone.baresip_peer import Baresip, free_port, require_baresip, write_wav
from tests.phone.test_e2e_baresip_sip import AgentPhone, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
QUESTION = SAMPLES / "audio" / "en_question_returns.wav"


def phone_recording(path: Path, seconds: int) -> np.ndarray:
    audio, rate = read_audio(path, max_bytes=10_000_000, max_seconds=60)
    pcm = np.clip(resample(audio, rate, 8000) * 32767, -32768, 32767).astype(np.int16)
    silence = np.zeros(8000, dtype=np.int16)
    return np.concatenate([silence, pcm, np.zeros(8000 * seconds, dtype=np.int16)])


async def test_real_phone_asks_real_gateway_and_is_transferred(live_gateway: Any, tmp_path: Path) -> None:
    require_baresip()
    gateway = live_gateway.gateway
    source = tmp_path / "IN.wav"
    write_wav(source, phone_recording(QUESTION, 40))
    agent_port = free_port()
    loop = asyncio.get_running_loop()
    agent_transport, agent = await loop.create_datagram_endpoint(
        AgentPhone, local_addr=("127.0.0.1", agent_port))
    settings = PhoneSettings(agent_uri=f"sip:agent@127.0.0.1:{agent_port}")

    async def start() -> tuple[SipEndpoint, int]:
        endpoint = SipEndpoint(gateway, settings)
        return endpoint, await endpoint.start(port=0)

    endpoint, port = live_gateway.call(start())
    phone = Baresip(tmp_path, source, seconds=40)
    session_id = ""

    def stored() -> dict[str, Any] | None:
        live_gateway.call(gateway.store.flush())
        return read_transcript(live_gateway.settings.store.path, session_id)

    try:
        await phone.dial(f"sip:gw@127.0.0.1:{port}")
        await wait_for(lambda: any(s.request.channel == "phone" for s in list(gateway.sessions.values())), 15)
        session_id = next(s.session_id for s in list(gateway.sessions.values())
                          if s.request.channel == "phone")
        deadline = time.monotonic() + 60
        while True:  # the spoken answer was produced and played out to the phone
            record = stored()
            calls = list(endpoint.calls.values())
            bridge = calls[0].bridge if calls else None
            answered = record is not None and any(t["speaker"] == "bot" for t in record["turns"])
            if answered and bridge is not None and not bridge.playing:
                break
            assert time.monotonic() < deadline, f"no spoken answer in time: {record}"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        assert (await phone.command("sndcode", "0"))["ok"]
        await wait_for(lambda: any(b"INVITE sip:agent@" in r for r in agent.requests), 15)
        await phone.wait(60)
    finally:
        live_gateway.call(endpoint.aclose())
        agent_transport.close()
    final = stored()
    assert final is not None
    record = final
    caller = [t["text"].lower() for t in record["turns"] if t["speaker"] == "caller"]
    assert any("return" in text for text in caller), record["turns"]
    assert any(t["speaker"] == "bot" for t in record["turns"])
    assert any(t.status == 202 for t in endpoint.transfers)  # the phone accepted the REFER
    heard = phone.heard()
    voiced = np.abs(heard.astype(np.int32)) > 300
    assert voiced.sum() > 8000, "the phone heard less than a second of reply"
    audio16 = resample(heard.astype(np.float32) / 32768, 8000, 16000)
    text = live_gateway.call(gateway.engines.transcribe("tiny.en", audio16, "en", None)).text.lower()
    assert "return" in text or "30 days" in text or "thirty days" in text, (text, record["turns"])
