"""Calibrates `speech.narrowband_vad_threshold`: the VAD threshold for 8 kHz callers that agrees
best with the wideband threshold (0.5) on the same real recordings.

Each calibration recording is scored twice by Silero through the gateway's own caller path: as
16 kHz PCM, and as 8 kHz mu-law (a phone line) decoded and resampled back to 16 kHz. The 16 kHz
decisions at 0.5 are the reference; for each candidate threshold the script counts 32 ms windows
the narrowband path misses or adds. jfk.wav is held out (the recording the talk-over was found
on): it is only checked afterwards, its pauses printed for both paths.

Usage: PYTHONPATH=. .venv/bin/python scripts/narrowband_vad.py [RECORDING ...]
(names inside ../shared/realdata/speech; default: the LibriSpeech, AISHELL and FunASR samples)
"""

from __future__ import annotations

import sys

import numpy as np

from gateway.client import encode_frames
from gateway.evaluation import realdata_dir
from gateway.events import AudioFormat
from gateway.media import CallerAudio
from modalities.audio.files import read_audio
from models.vad_silero import SileroVad

CALIBRATION = ("librispeech-1995-1837-0001.wav", "aishell-BAC009S0724W0121.wav",
               "funasr_llamacpp_sample_zh.wav")
HELD_OUT = "jfk.wav"
WIDE, PHONE = AudioFormat("pcm16", 16000), AudioFormat("mulaw", 8000)
GRID = tuple(round(t, 2) for t in np.arange(0.15, 0.56, 0.05))


def probabilities(vad: SileroVad, audio: np.ndarray, rate: int, fmt: AudioFormat) -> np.ndarray:
    vad.reset()
    caller = CallerAudio(fmt)
    pcm = np.concatenate([caller.decode(frame) for frame in encode_frames(audio, rate, fmt)])
    w = vad.window_samples
    return np.array([vad.probability(pcm[i:i + w]) for i in range(0, len(pcm) - w + 1, w)])


def pauses(voiced: np.ndarray, window_ms: int = 32, least_ms: int = 160) -> list[tuple[int, int]]:
    """(start ms, length ms) of each unvoiced run of at least least_ms."""
    out, start = [], None
    for i, v in enumerate([*voiced, True]):
        if not v and start is None:
            start = i
        elif v and start is not None:
            if (i - start) * window_ms >= least_ms:
                out.append((start * window_ms, (i - start) * window_ms))
            start = None
    return out


def main(names: list[str]) -> int:
    root = realdata_dir()
    if root is None:
        print("../shared/realdata is absent (set GATEWAY_REALDATA)", file=sys.stderr)
        return 2
    vad = SileroVad()
    try:
        missed = dict.fromkeys(GRID, 0)
        added = dict.fromkeys(GRID, 0)
        windows = 0
        for name in names or CALIBRATION:
            audio, rate = read_audio(root / "speech" / name)
            wide = probabilities(vad, audio, rate, WIDE) >= 0.5
            phone = probabilities(vad, audio, rate, PHONE)
            n = min(len(wide), len(phone))
            windows += n
            for t in GRID:
                narrow = phone[:n] >= t
                missed[t] += int(np.sum(wide[:n] & ~narrow))
                added[t] += int(np.sum(~wide[:n] & narrow))
        print(f"{windows} windows of 32 ms; reference: 16 kHz at 0.5")
        print("threshold  missed voiced  added voiced  disagreement")
        for t in GRID:
            print(f"{t:9.2f}  {missed[t]:13d}  {added[t]:12d}  {(missed[t] + added[t]) / windows:12.3f}")
        best = min(GRID, key=lambda t: (missed[t] + added[t], abs(missed[t] - added[t])))
        print(f"best: {best}")
        held = root / "speech" / HELD_OUT
        if held.is_file():
            audio, rate = read_audio(held)
            print(f"{HELD_OUT} pauses (start ms, length ms):")
            print("  16 kHz at 0.5:", pauses(probabilities(vad, audio, rate, WIDE) >= 0.5))
            phone = probabilities(vad, audio, rate, PHONE)
            print("  8 kHz mu-law at 0.5:", pauses(phone >= 0.5))
            print(f"  8 kHz mu-law at {best}:", pauses(phone >= best))
    finally:
        vad.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
