from __future__ import annotations

import numpy as np
import pytest

from gateway.errors import MediaError
from modalities.audio.resample import Resampler, resample


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[int(np.argmax(spectrum))])


RATES = [(8000, 16000), (16000, 8000), (22050, 16000), (48000, 16000), (22050, 8000), (16000, 48000)]


@pytest.mark.parametrize(("in_rate", "out_rate"), RATES)
def test_streaming_equals_one_shot_for_any_chunking(in_rate: int, out_rate: int) -> None:
    audio = np.random.default_rng(1).standard_normal(in_rate).astype(np.float32) * 0.1
    resampler = Resampler(in_rate, out_rate)
    parts, pos, sizes = [], 0, [1, 7, 160, 333, 1000, 2]
    for i in range(10_000):
        if pos >= audio.size:
            break
        size = sizes[i % len(sizes)]
        parts.append(resampler.process(audio[pos : pos + size]))
        pos += size
    parts.append(resampler.flush())
    streamed = np.concatenate(parts)
    one_shot = resample(audio, in_rate, out_rate)
    assert streamed.dtype == np.float32
    assert streamed.size == one_shot.size == round(audio.size * out_rate / in_rate)
    np.testing.assert_allclose(streamed, one_shot, atol=1e-6)


def test_tone_keeps_its_frequency_and_level() -> None:
    out = resample(_tone(1000, 8000), 8000, 16000)
    assert abs(_peak_hz(out, 16000) - 1000) < 2
    assert 0.48 < np.abs(out[1000:-1000]).max() < 0.52


def test_downsampling_removes_content_above_new_nyquist() -> None:
    out = resample(_tone(6000, 16000), 16000, 8000)  # 6 kHz cannot exist at 8 kHz
    assert np.sqrt(np.mean(out[500:-500] ** 2)) < 0.01


def test_flush_restarts_the_stream_and_same_rate_passes_through() -> None:
    resampler = Resampler(16000, 8000)
    first = np.concatenate([resampler.process(np.ones(1600, dtype=np.float32)), resampler.flush()])
    second = np.concatenate([resampler.process(np.ones(1600, dtype=np.float32)), resampler.flush()])
    np.testing.assert_array_equal(first, second)
    audio = _tone(440, 16000, 0.1)
    np.testing.assert_array_equal(Resampler(16000, 16000).process(audio), audio)


def test_bad_rates_and_shapes() -> None:
    with pytest.raises(MediaError) as info:
        Resampler(0, 16000)
    assert info.value.code == "audio-bad-rate"
    with pytest.raises(MediaError):
        resample(np.zeros((2, 10), dtype=np.float32), 16000, 8000)
