"""Smart Turn v3.2 (models/turn_smart.py): features, the weights check, the real model on real
speech when the `turn` extra is installed, and the settings that choose it."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import numpy as np
import pytest

from contracts.errors import ModelUnavailable
from gateway.config import Settings, SpeechSettings
from gateway.engines import Engines
from models import weights
from models.registry import TURN_MODELS
from models.turn_smart import SmartTurn, log_mel, mel_filters

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "speech"


def test_features_are_whisper_shaped_and_read_the_last_eight_seconds() -> None:
    rng = np.random.default_rng(1)
    filters = mel_filters()
    assert filters.shape == (80, 201) and (filters >= 0).all()
    tail = (rng.standard_normal(16000 * 8) * 0.1).astype(np.float32)
    longer = np.concatenate([np.ones(16000 * 3, dtype=np.float32), tail])
    assert log_mel(tail, filters).shape == (80, 800)
    assert np.array_equal(log_mel(longer, filters), log_mel(tail, filters))  # older audio is ignored
    short = log_mel(tail[:16000], filters)  # zeros in front of a short turn: its end stays at the end
    assert np.allclose(short[:, :600], short[:, :1])  # the silence in front: the same every frame
    assert not np.allclose(short[:, -50:], short[:, -50:-49])
    assert short[:, -50:].mean() > short[:, :50].mean()


def test_a_missing_weights_package_names_the_turn_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = md.distribution

    def distribution(name: str) -> md.Distribution:
        if name == "pipecat-ai":
            raise md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(md, "distribution", distribution)
    with pytest.raises(ModelUnavailable, match=r"pipecat-ai.*cc-gateway\[turn\]"):
        weights.WeightResolver().resolve("smart-turn-v3.2-cpu")


def test_auto_uses_the_model_only_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = Engines(Settings(speech=SpeechSettings(turn_model="auto")))
    monkeypatch.setattr(weights, "installed", lambda name: False)
    assert engines.turn_model_name() is None
    engines = Engines(Settings(speech=SpeechSettings(turn_model="auto")))
    monkeypatch.setattr(weights, "installed", lambda name: True)
    assert engines.turn_model_name() == "smart-turn-v3" and "smart-turn-v3" in TURN_MODELS
    assert Engines(Settings(speech=SpeechSettings(turn_model="off"))).turn_model_name() is None


def _smart_turn() -> SmartTurn:
    if not weights.installed("smart-turn-v3.2-cpu"):
        pytest.skip("the end-of-turn model needs: pip install 'cc-gateway[turn]' (pipecat-ai)")

    return SmartTurn()


def test_real_model_hears_a_finished_sentence_and_a_mid_sentence_pause() -> None:
    """jfk.wav: "And so, my fellow Americans, ask not ..." pauses after "ask not" (3.46 s, the
    caller goes on) and ends at 10.46 s. Measured here: p 0.008 and 0.967."""
    if not (SPEECH / "jfk.wav").is_file():
        pytest.skip("../shared/realdata/speech/jfk.wav is absent")
    import soundfile as sf

    model = _smart_turn()
    try:
        audio, rate = sf.read(SPEECH / "jfk.wav", dtype="float32")
        assert rate == 16000
        mid = model.probability(audio[:int(3.616 * rate)])
        end = model.probability(audio[:int(10.624 * rate)])
        assert mid < 0.1 < 0.9 < end
    finally:
        model.close()
    with pytest.raises(ModelUnavailable):
        model.probability(audio[:16000])


@pytest.mark.parametrize("choice", ["auto", "smart-turn-v3"])
def test_a_model_that_cannot_load_is_dropped_under_auto_and_an_error_when_required(
        choice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    engines = Engines(Settings(speech=SpeechSettings(turn_model=choice)))
    monkeypatch.setattr(weights, "installed", lambda name: True)

    def broken(name: str) -> SmartTurn:
        raise ModelUnavailable("model 'smart-turn-v3.2-cpu' failed its sha256 check")

    monkeypatch.setattr(engines, "turn_model", broken)
    audio = np.zeros(16000, dtype=np.float32)
    if choice == "auto":
        assert asyncio.run(engines.end_of_turn("smart-turn-v3", audio)) is None
        assert engines.turn_model_name() is None  # later sessions run on the pause rules alone
    else:
        with pytest.raises(ModelUnavailable, match="sha256"):
            asyncio.run(engines.end_of_turn("smart-turn-v3", audio))
        assert engines.turn_model_name() == "smart-turn-v3"
