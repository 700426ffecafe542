"""The speech engines fail during a live call (the in-process form of a crashed ASR or TTS worker):
the session reports it with a stable code and goes on (the reply as text while the voice is
down), nothing already said is lost, and the engine is reloaded by itself."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.client import GatewayClient
from gateway.store.transcripts import read_transcript
from modalities.audio.files import read_audio
from tests.conftest import SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTION = SAMPLES / "audio" / "en_question_returns.wav"


class Broken:
    """Stands where a loaded engine was: it has died, every call raises."""

    def __init__(self, engine: Any) -> None:
        self.info = engine.info

    def transcribe(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("the ASR worker died")

    def synthesize(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("the TTS worker died")


def break_engine(live_gateway, key: str) -> None:
    loaded = live_gateway.gateway.engines._loaded  # the engine cache is the injection point
    loaded[key] = Broken(loaded[key])


async def test_tts_dies_mid_call_reply_goes_on_as_text_then_voice_returns(live_gateway):
    async with GatewayClient(live_gateway.url, language="en") as client:
        await client.send_text("How long do I have to return an item?")
        await client.wait_for("turn.timing", timeout=60)
        voiced = len(client.result.reply_audio)
        assert voiced > 0
        break_engine(live_gateway, "tts:piper")
        await client.send_text("When will I get my refund?")
        await client.wait_for("turn.timing", timeout=60, count=2)
        assert len(client.result.reply_audio) == voiced  # no voice for this reply...
        assert [e["code"] for e in client.result.errors] == ["tts-failed"]
        assert "business days" in client.result.replies()[2]  # ...but the answer, as text
        await client.send_text("How do I start a return?")
        await client.wait_for("turn.timing", timeout=60, count=3)
        assert len(client.result.reply_audio) > voiced  # a fresh voice was loaded by itself
        session_id = client.result.session_id
    live_gateway.call(live_gateway.gateway.store.flush())
    stored = read_transcript(live_gateway.settings.store.path, session_id)
    assert stored is not None
    speakers = [t["speaker"] for t in stored["turns"]]
    assert speakers == ["caller", "bot"] * 3  # the unvoiced reply is in the transcript too
    assert [e["code"] for e in stored["errors"]] == ["tts-failed"]


async def test_asr_dies_mid_turn_and_the_turn_is_still_heard(live_gateway):
    audio, rate = read_audio(QUESTION, max_bytes=10_000_000, max_seconds=60)
    async with GatewayClient(live_gateway.url, language="en") as client:
        await client.send_text("Hello, I have a question about returns.")
        await client.wait_for("turn.timing", timeout=60)
        break_engine(live_gateway, "asr:tiny.en")
        await client.stream(audio, rate, realtime=False)
        error = await client.wait_for("error", timeout=60)
        assert error["code"] == "asr-failed"
        # When the failed pass was one of the turn's speculative passes, the end-of-turn pass (on
        # the reloaded engine) still hears the caller; when it was the last pass, the caller
        # repeats the question, as on any call where the line dropped a word.
        try:
            final = await client.wait_for("transcript.final", timeout=20, count=2)
        except TimeoutError:
            await client.stream(audio, rate, realtime=False)
            final = await client.wait_for("transcript.final", timeout=90, count=2)
        await client.wait_for("turn.timing", timeout=90, count=2)
        assert "how long do i have to return" in final["text"].lower()
        assert client.result.replies()[final["turn_id"]]
        session_id = client.result.session_id
    live_gateway.call(live_gateway.gateway.store.flush())
    stored = read_transcript(live_gateway.settings.store.path, session_id)
    assert stored is not None
    said = [t["text"] for t in stored["turns"] if t["speaker"] == "caller"]
    assert said == ["Hello, I have a question about returns.", final["text"]]
    assert [e["code"] for e in stored["errors"]] == ["asr-failed"]
