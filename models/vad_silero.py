"""Silero VAD v6 (the ONNX model faster-whisper bundles) on onnxruntime, one window at a time.

The model takes 512 new samples at 16 kHz prefixed by the last 64 samples of the previous
window (zeros at stream start), plus the LSTM state (h, c); it returns the speech probability
and the next state. Streaming window by window gives the same probabilities as faster-whisper's
batched call over the whole signal.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from contracts.errors import MediaError, ModelUnavailable
from models import weights
from models.base import Float32Audio
from models.extras import needs_extra

_CONTEXT = 64
_STATE_SHAPE = (1, 1, 128)


class SileroVad:
    """VoiceActivityDetector: one instance per stream (it is stateful); not shared across threads."""

    sample_rate = 16000
    window_samples = 512

    def __init__(self, *, threads: int = 1, model_name: str = "silero-vad") -> None:
        with needs_extra("voice", "voice activity detection"):
            import onnxruntime as ort  # lazy: engines load only when a session needs them

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False  # a tiny model: the arena only costs resident memory
        opts.log_severity_level = 3
        path = weights.resolve(model_name)
        try:
            self._session: Any = ort.InferenceSession(str(path), sess_options=opts,
                                                      providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(f"cannot load silero VAD from {path}: {exc}") from exc
        self._lock = threading.Lock()
        self.reset()

    def fork(self) -> SileroVad:
        """A detector with fresh state sharing this one's ONNX session (run() is thread-safe)."""
        twin = object.__new__(SileroVad)
        twin._session, twin._lock = self._session, threading.Lock()
        twin.reset()
        return twin

    def reset(self) -> None:
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, window: Float32Audio) -> float:
        if window.shape != (self.window_samples,):
            raise MediaError(
                f"VAD window must be {self.window_samples} samples, got shape {window.shape}",
                code="audio-bad-frame-size",
            )
        frame = np.concatenate([self._context, window.astype(np.float32, copy=False)])[None, :]
        with self._lock:
            if self._session is None:
                raise ModelUnavailable("silero VAD was closed")
            prob, self._h, self._c = self._session.run(None, {"input": frame, "h": self._h, "c": self._c})
        self._context = frame[0, -_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])

    def close(self) -> None:
        with self._lock:
            self._session = None
