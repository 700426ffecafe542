"""Two session bugs, through the real WebSocket protocol with stub engines (no models needed):

- Lost reply: a typed turn arriving while the caller is still speaking took the spoken turn's id;
  the caller talking over the typed reply put that id on the cancelled list, and the spoken
  reply's audio was dropped whole (its transcript and text arrived, none of its audio).
- Dead sign input: one unexpected exception in the sign pipeline stopped sign recognition for the
  rest of the session, silently (frames pushed after it were never processed, no error event).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway.client import GatewayClient, encode_frames
from gateway.events import AudioFormat
from gateway.store.transcripts import read_transcript
from modalities.sign.events import LetterRecognised
from modalities.voice.clauses import speakable_pieces
from models.base import SynthesizerInfo, TranscriberInfo, Transcript
from tests.conftest import GatewayThread, make_settings

pytestmark = [pytest.mark.e2e]

PIECE_S = 0.2  # the stub voice speaks every piece in 0.2 s (10 frames of 20 ms)
PIECE_BYTES = int(PIECE_S * 16000) * 2
QUESTION = "How long do I have to return an item?"


class StubVad:
    """Voiced when the window is loud: the test's tone is speech, its silence is not."""

    sample_rate = 16000
    window_samples = 512

    def probability(self, window: np.ndarray) -> float:
        return 1.0 if float(np.sqrt(np.mean(window ** 2))) > 0.05 else 0.0

    def fork(self) -> StubVad:
        return StubVad()

    def reset(self) -> None: ...

    def close(self) -> None: ...


class StubAsr:
    info = TranscriberInfo("stub", ("en",), 16000)

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        return Transcript(QUESTION, "en", 1.0, len(audio) / 16000)

    def close(self) -> None: ...


class StubVoice:
    info = SynthesizerInfo("piper", ("en",), 16000)

    def synthesize(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        yield np.full(int(PIECE_S * 16000), 800, dtype=np.int16)

    def close(self) -> None: ...


class CrashOnceSign:
    """A sign pipeline whose first frame raises a bug (not a GatewayError); later frames work."""

    def __init__(self) -> None:
        self.clock_resets = 0
        self.frames = 0

    def process_frame(self, data: bytes, t_ms: int) -> list[LetterRecognised]:
        self.frames += 1
        if self.frames == 1:
            raise RuntimeError("the hand tracker crashed")
        return [LetterRecognised("A", 0.9, t_ms)]

    def confirm(self, yes: bool) -> list[object]:
        return []

    def close(self) -> None: ...


@pytest.fixture
def stub_gateway(tmp_path: Path) -> Iterator[GatewayThread]:
    gw = GatewayThread(make_settings(tmp_path), preload=False).start()
    assert gw.gateway is not None
    loaded = gw.gateway.engines._loaded  # the engine cache is the injection point
    loaded.update({"vad": StubVad(), "asr:tiny.en": StubAsr(), "tts:piper": StubVoice()})
    yield gw
    gw.stop()


async def send_audio(client: GatewayClient, seconds: float, loud: bool) -> None:
    """Paced at 5x real time (media time is what counts; pacing keeps the order natural)."""
    t = np.arange(int(seconds * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) if loud else np.zeros_like(t)).astype(np.float32)
    for frame in encode_frames(audio, 16000, AudioFormat("pcm16", 16000), 20):
        await client.send_bytes(frame)
        await asyncio.sleep(0.004)


def expected_bytes(client: GatewayClient, turn_id: int) -> int:
    clauses = [e["text"] for e in client.result.of("reply.text") if e["turn_id"] == turn_id]
    return sum(len(speakable_pieces(c)) for c in clauses) * PIECE_BYTES


async def test_a_typed_turn_mid_speech_loses_neither_reply(stub_gateway: GatewayThread) -> None:
    async with GatewayClient(stub_gateway.url, language="en") as client:
        await send_audio(client, 0.6, loud=True)  # the caller starts a sentence...
        await client.send_text("What are your shipping options?")  # ...and types meanwhile
        await send_audio(client, 3.0, loud=True)  # the caller talks on over the typed reply
        await send_audio(client, 2.0, loud=False)
        spoken = await client.wait_for("transcript.final", timeout=30, where={"modality": "speech"})
        await client.wait_for("turn.timing", timeout=30, where={"turn_id": spoken["turn_id"]})
        typed = client.result.of("transcript.final")[0]
        ends = [e["turn_id"] for e in client.result.of("reply.audio.end")]
    assert typed["modality"] == "text" and typed["turn_id"] != spoken["turn_id"]
    assert spoken["text"] == QUESTION
    assert ends == [typed["turn_id"], spoken["turn_id"]]  # both replies voiced to the end
    want = expected_bytes(client, typed["turn_id"]) + expected_bytes(client, spoken["turn_id"])
    assert want > 0 and len(client.result.reply_audio) == want  # every frame of both delivered
    assert client.result.of("audio.clear") == [] and client.result.errors == []


def blank_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 40, 40)).save(out, "JPEG")
    return out.getvalue()


async def test_sign_input_survives_a_crash_in_its_pipeline(stub_gateway: GatewayThread,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    assert stub_gateway.gateway is not None
    monkeypatch.setattr(stub_gateway.gateway.engines, "sign_pipeline", CrashOnceSign)  # a test double
    frame = base64.b64encode(blank_jpeg()).decode()
    async with GatewayClient(stub_gateway.url, language="en", channel="kiosk") as client:
        for i in range(6):  # paced: each frame is tracked before the next arrives (none dropped)
            await client.send_json({"type": "video.frame", "t_ms": i * 100, "data": frame})
            if i == 0:
                await client.wait_for("error", timeout=10)
            else:
                await client.wait_for("caption", timeout=10, count=i)
    assert [e["code"] for e in client.result.errors] == ["internal-error"]  # reported, not silent
    assert [c["text"] for c in client.result.of("caption")] == ["A"] * 5  # every later frame seen


async def test_hanging_up_mid_sentence_stores_the_words_as_an_interrupted_turn(
        stub_gateway: GatewayThread) -> None:
    async with GatewayClient(stub_gateway.url, language="en") as client:
        await send_audio(client, 1.0, loud=True)  # the caller is still talking when the call ends
        session_id = client.result.session_id
    assert stub_gateway.gateway is not None
    stub_gateway.call(stub_gateway.gateway.store.flush())
    stored = read_transcript(stub_gateway.settings.store.path, session_id)
    assert stored is not None
    assert [(t["speaker"], t["text"], t["timings"].get("interrupted")) for t in stored["turns"]] == [
        ("caller", QUESTION, 1.0)]
