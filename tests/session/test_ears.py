"""The runner's ear: caller audio to VAD windows, and the audio of a turn taken back by media time
from a ring that keeps the last seconds (what is forgotten comes back as silence)."""

from __future__ import annotations

import numpy as np

from gateway.events import AudioFormat
from gateway.session.speech import CallerEars


class RampVad:
    sample_rate = 16000
    window_samples = 512

    def __init__(self) -> None:
        self.closed = False

    def probability(self, window: np.ndarray) -> float:
        return float(window[0] > 0)

    def reset(self) -> None: ...

    def close(self) -> None:
        self.closed = True


def pcm(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def test_windows_are_in_media_time_and_audio_comes_back_from_the_ring() -> None:
    vad = RampVad()
    ears = CallerEars(vad, AudioFormat("pcm16", 16000), keep_s=0.1)  # a 1600-sample ring
    values = (np.arange(4000) % 1000 + 1).astype(np.int16)  # every sample is known
    windows = ears.hear(pcm(values[:1000])) + ears.hear(pcm(values[1000:]))  # any frame size
    assert [w.end_ms for w in windows] == [32 * (i + 1) for i in range(7)]  # 7 whole windows = 3584
    assert ears.media_ms == 224 and all(w.probability == 1.0 for w in windows)
    got = ears.audio(140, 224)  # the last 1344 samples, across the ring's wrap
    assert np.array_equal(got, values[2240:3584].astype(np.float32) / 32768)
    old = ears.audio(0, 140)  # older than the ring: silence, still one sample per 1/16 ms
    assert len(old) == 2240 and not old[:1984].any()  # the ring keeps samples 1984..3583
    assert np.array_equal(old[1984:], values[1984:2240].astype(np.float32) / 32768)
    assert not ears.audio(224, 300).any()  # not heard yet: silence
    ears.close()
    assert vad.closed
