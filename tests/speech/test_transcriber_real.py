"""TurnTranscriber with the real tiny.en on jfk.wav, at the pause times the session's own VAD and
endpointing find in it (16 kHz): pieces committed at the caller's pauses must not echo words.

Measured before the fix: the last piece began at the pause ("... for you" + 0.64 s of silence +
"ask what you can do for your country"), and the model, prompted with the committed words, wrote
"country. Ask what ..." into the silence; 11 of 25 jfk turns of a 25-caller load test carried it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from gateway.evaluation import realdata_dir
from modalities.audio.files import read_audio
from modalities.speech.transcriber import TurnTranscriber
from models.asr_faster_whisper import FasterWhisperTranscriber
from models.base import Float32Audio, Transcript

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

# (speech end where the pause began, speech went on) in ms, as printed by the SpeechListener
# over jfk.wav at 16 kHz with the default endpoint config; the turn's speech ends at 10464.
PAUSES = [(2208, 3328), (3456, 3616), (3712, 4032), (4320, 5440), (7584, 8224)]
TURN = (320, 10464)


@pytest.fixture(scope="module")
def tiny() -> Iterator[FasterWhisperTranscriber]:
    model = FasterWhisperTranscriber("tiny.en")
    yield model
    model.close()


async def test_the_piece_after_a_pause_does_not_echo_the_prompt(tiny: FasterWhisperTranscriber) -> None:
    real = realdata_dir()
    if real is None or not (real / "speech" / "jfk.wav").is_file():
        pytest.skip("../shared/realdata/speech/jfk.wav absent (set GATEWAY_REALDATA)")
    audio, rate = read_audio(real / "speech" / "jfk.wav")
    assert rate == 16000

    def span(start_ms: int, end_ms: int) -> Float32Audio:
        return np.asarray(audio[max(0, start_ms) * 16:end_ms * 16], dtype=np.float32)

    async def asr(piece: Float32Audio, language: str | None, prompt: str | None) -> Transcript:
        return tiny.transcribe(piece, language=language, prompt=prompt)

    tx = TurnTranscriber(asr, span, language="en", start_ms=TURN[0])
    for pause_ms, went_on_ms in PAUSES:
        await tx.transcribe_until(pause_ms)
        tx.resumed(pause_ms, went_on_ms)
    text = (await tx.finish(TURN[1], loop_time=lambda: 0.0)).text
    words = text.lower().replace(".", " ").replace(",", " ").split()
    assert words.count("country") == 2, text  # "your country can do" and "for your country"
    assert words[-6:] == ["you", "can", "do", "for", "your", "country"], text  # nothing dropped either
