"""Smart Turn v3.2 (Pipecat's end-of-turn model, BSD-2-Clause) on onnxruntime: does the caller's
audio so far sound like a finished turn?

The ONNX file ships inside the `pipecat-ai` wheel (the `turn` extra); models.weights finds it
through the distribution's file list and checks its sha256, and none of pipecat's code is imported.
The model reads the last 8 s of 16 kHz audio (zeros in front of a shorter turn) as 80 x 800
Whisper log-mel features of the mean/variance-normalised waveform, and returns the probability
that the speaker has finished. Features are computed here with numpy (about 5 ms for 8 s).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.errors import MediaError, ModelUnavailable
from models import weights
from models.base import Float32Audio
from models.extras import needs_extra

RATE = 16000
WINDOW_S = 8
_N_FFT, _HOP, _N_MELS = 400, 160, 80
_SAMPLES = WINDOW_S * RATE


def _slaney_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hz -> mel on the Slaney scale: linear below 1 kHz, logarithmic above."""
    linear = hz / (200.0 / 3.0)
    return np.where(hz < 1000.0, linear, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / (np.log(6.4) / 27.0))


def _slaney_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.where(mel < 15.0, mel * (200.0 / 3.0), 1000.0 * np.exp((mel - 15.0) * (np.log(6.4) / 27.0)))


def mel_filters() -> npt.NDArray[np.float64]:
    """(80, 201) triangular filters from 0 Hz to 8 kHz, each scaled to unit area (Slaney)."""
    edges = _slaney_hz(np.linspace(_slaney_mel(np.array(0.0)), _slaney_mel(np.array(RATE / 2)), _N_MELS + 2))
    bins = np.linspace(0.0, RATE / 2, _N_FFT // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / (mid - lo)
    falling = (hi - bins[None, :]) / (hi - mid)
    tri = np.clip(np.minimum(rising, falling), 0.0, None)
    return tri * (2.0 / (hi - lo))


def log_mel(audio: Float32Audio, filters: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Whisper-style features of the last 8 s of `audio`: (80, 800), roughly in -1..1."""
    x = np.asarray(audio, dtype=np.float32)[-_SAMPLES:]
    x = np.concatenate([np.zeros(_SAMPLES - len(x), dtype=np.float32), x])  # silence before the turn
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), _N_FFT // 2, mode="reflect")  # centred frames
    n_frames = 1 + (len(padded) - _N_FFT) // _HOP
    starts = np.arange(n_frames - 1) * _HOP  # Whisper drops the last frame
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(_N_FFT) / _N_FFT)  # periodic
    frames = padded[starts[:, None] + np.arange(_N_FFT)[None, :]] * hann
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (800, 201)
    spec = np.log10(np.maximum(filters @ power.T, 1e-10))
    spec = np.maximum(spec, spec.max() - 8.0)
    return ((spec + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """EndOfTurnModel: probability that the speech so far is a finished turn. Thread-safe."""

    sample_rate = RATE
    max_seconds = WINDOW_S

    def __init__(self, *, threads: int = 1, model_name: str = "smart-turn-v3.2-cpu") -> None:
        with needs_extra("voice", "the end-of-turn model"):
            import onnxruntime as ort  # lazy: loaded only when a session needs it

        path = weights.resolve(model_name)  # names the `turn` extra when pipecat-ai is missing
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(str(path), sess_options=opts,
                                                      providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(f"cannot load the end-of-turn model from {path}: {exc}") from exc
        self._filters = mel_filters()
        self._lock = threading.Lock()

    def probability(self, audio: Float32Audio) -> float:
        if audio.ndim != 1 or len(audio) == 0:
            raise MediaError("end-of-turn audio must be non-empty mono", code="audio-bad-frame-size")
        features = log_mel(audio, self._filters)[None, :, :]
        with self._lock:
            if self._session is None:
                raise ModelUnavailable("the end-of-turn model was closed")
            session = self._session
        (out,) = session.run(None, {"input_features": features})[:1]
        return float(np.asarray(out).reshape(-1)[0])

    def close(self) -> None:
        with self._lock:
            self._session = None
