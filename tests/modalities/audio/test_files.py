from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gateway.errors import MediaError
from modalities.audio.files import read_audio

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "audio"


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono, mono * 0.5], axis=1)


def test_reads_project_sample() -> None:
    audio, rate = read_audio(SAMPLES / "en_question_returns.wav")
    assert rate == 16000 and audio.dtype == np.float32 and audio.ndim == 1
    assert 2.5 < audio.size / rate < 4.0 and np.abs(audio).max() > 0.1


FORMATS = [
    ("WAV", "PCM_16", 1e-4),
    ("FLAC", "PCM_16", 1e-4),
    ("OGG", "VORBIS", 0.1),
    ("MP3", "MPEG_LAYER_III", 0.1),
]


@pytest.mark.parametrize(("fmt", "subtype", "tolerance"), FORMATS)
def test_formats_from_bytes_and_path(fmt: str, subtype: str, tolerance: float, tmp_path: Path) -> None:
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, _tone(16000, 1.0), 16000, format=fmt, subtype=subtype)
    from_path, rate = read_audio(path)
    from_bytes, rate2 = read_audio(path.read_bytes())
    assert rate == rate2 == 16000
    assert abs(from_path.size - 16000) < 2000  # lossy codecs add padding
    np.testing.assert_array_equal(from_path, from_bytes)
    rms = float(np.sqrt(np.mean(from_path**2)))
    assert abs(rms - 0.4 / np.sqrt(2)) < tolerance


def test_stereo_is_downmixed(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    stereo = _tone(8000, 0.5, channels=2)
    sf.write(path, stereo, 8000, subtype="FLOAT")
    audio, rate = read_audio(path)
    assert rate == 8000
    np.testing.assert_allclose(audio, stereo.mean(axis=1), atol=1e-6)


def test_caps(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, _tone(8000, 3.0), 8000)
    with pytest.raises(MediaError) as info:
        read_audio(path, max_seconds=2.0)
    assert info.value.code == "audio-too-large"
    with pytest.raises(MediaError) as info:
        read_audio(path.read_bytes(), max_bytes=1000)
    assert info.value.code == "audio-too-large"
    audio, _ = read_audio(path, max_seconds=3.0)
    assert audio.size == 24000


@pytest.mark.parametrize("data", [b"", b"not audio at all" * 10, b"RIFF\x10\x00\x00\x00WAVEfmt "])
def test_garbage_is_unreadable(data: bytes) -> None:
    with pytest.raises(MediaError) as info:
        read_audio(data)
    assert info.value.code == "audio-unreadable"


def test_truncated_and_missing_files(tmp_path: Path) -> None:
    whole = (SAMPLES / "en_question_returns.wav").read_bytes()
    with pytest.raises(MediaError) as info:
        read_audio(whole[:40])
    assert info.value.code == "audio-unreadable"
    with pytest.raises(MediaError) as info:
        read_audio(tmp_path / "nope.wav")
    assert info.value.code == "audio-unreadable"
