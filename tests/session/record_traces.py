"""Records the VAD traces tests/session replays: Silero's speech probability for every 32 ms
window of the project's own recordings in samples/audio (run once; the traces are committed).

    PYTHONPATH=$PWD python -m tests.session.record_traces
"""

from __future__ import annotations

import json
from pathlib import Path

from modalities.audio.files import read_audio
from modalities.audio.resample import resample
from models.vad_silero import SileroVad
from tests.conftest import SAMPLES

OUT = Path(__file__).parent / "traces"
RECORDINGS = ("en_question_returns", "en_pause_mid_sentence", "en_question_shipping")


def main() -> None:
    vad = SileroVad()
    try:
        for name in RECORDINGS:
            audio, rate = read_audio(SAMPLES / "audio" / f"{name}.wav", max_bytes=10_000_000, max_seconds=60)
            audio = resample(audio, rate, 16000) if rate != 16000 else audio
            vad.reset()
            w = vad.window_samples
            probabilities = [round(float(vad.probability(audio[i:i + w])), 3)
                             for i in range(0, len(audio) - w + 1, w)]
            trace = {"source": f"samples/audio/{name}.wav", "vad": "silero", "window_ms": w * 1000 // 16000,
                     "probabilities": probabilities}
            (OUT / f"{name}.json").write_text(json.dumps(trace) + "\n", encoding="utf-8")
            print(name, len(probabilities), "windows")
    finally:
        vad.close()


if __name__ == "__main__":
    main()
