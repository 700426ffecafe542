from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.errors import MediaError, ModelUnavailable
from modalities.audio.files import read_audio
from models.vad_silero import SileroVad

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "audio"
pytestmark = pytest.mark.slow




def _probs(vad: SileroVad, audio: np.ndarray) -> np.ndarray:
    vad.reset()
    n = audio.size // vad.window_samples
    w = vad.window_samples
    return np.array([vad.probability(audio[i * w : (i + 1) * w]) for i in range(n)])


@pytest.mark.parametrize("name", ["en_question_returns.wav", "zh_question_returns.wav"])
def test_speech_is_detected(vad: SileroVad, name: str) -> None:
    audio, rate = read_audio(SAMPLES / name)
    assert rate == vad.sample_rate
    probs = _probs(vad, audio)
    assert (probs > 0.5).mean() > 0.5
    assert probs[-5:].max() < 0.5  # espeak ends each utterance with a short silence


def test_silence_and_noise_are_not_speech(vad: SileroVad) -> None:
    silence, _ = read_audio(SAMPLES / "silence_2s.wav")
    assert _probs(vad, silence).max() < 0.1
    noise = (np.random.default_rng(0).standard_normal(16000) * 0.01).astype(np.float32)
    assert _probs(vad, noise).max() < 0.5


def test_mid_sentence_pause_is_seen(vad: SileroVad) -> None:
    audio, _ = read_audio(SAMPLES / "en_pause_mid_sentence.wav")
    probs = _probs(vad, audio)
    voiced = probs > 0.5
    # Longest unvoiced run between the two phrases: the 1.0 s gap (31 windows of 32 ms) or more.
    runs, run = [], 0
    for v in voiced[np.argmax(voiced) :]:
        run = 0 if v else run + 1
        runs.append(run)
    assert max(runs) >= 28


def test_matches_faster_whisper_batched_reference(vad: SileroVad) -> None:
    from faster_whisper.vad import SileroVADModel

    from models.weights import resolve

    audio, _ = read_audio(SAMPLES / "en_question_returns.wav")
    audio = audio[: audio.size // 512 * 512]
    reference = SileroVADModel(str(resolve("silero-vad")))(audio).reshape(-1)
    np.testing.assert_allclose(_probs(vad, audio), reference, atol=1e-5)


def test_reset_and_fork_give_fresh_state(vad: SileroVad) -> None:
    audio, _ = read_audio(SAMPLES / "en_question_returns.wav")
    first = _probs(vad, audio[:16384])
    np.testing.assert_allclose(_probs(vad, audio[:16384]), first, atol=1e-6)
    twin = vad.fork()
    w = twin.window_samples
    forked = np.array([twin.probability(audio[i * w : (i + 1) * w]) for i in range(32)])
    np.testing.assert_allclose(forked, first, atol=1e-6)
    twin.close()
    with pytest.raises(ModelUnavailable):
        twin.probability(audio[:w])
    assert vad.probability(audio[:w]) >= 0.0  # closing a fork leaves the original usable


def test_wrong_window_size_is_a_media_error(vad: SileroVad) -> None:
    with pytest.raises(MediaError) as info:
        vad.probability(np.zeros(320, dtype=np.float32))
    assert info.value.code == "audio-bad-frame-size"
