"""A phone caller's mid-sentence pause is a pause, not the end of the turn.

jfk.wav ("And so, my fellow Americans, ... ask not what your country can do for you") pauses
about 1.1 s after "Americans". Sent as 8 kHz mu-law (a phone line) and decoded by the gateway,
Silero scores the soft "ask not" below 0.5, the pause then reads as 1.9 s of silence, and the
turn used to end inside the sentence: the reply talked over the caller. The session's endpoint
config for an 8 kHz caller uses `speech.narrowband_vad_threshold` (calibrated on other
recordings: scripts/narrowband_vad.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from gateway.client import encode_frames
from gateway.config import Settings
from gateway.evaluation import realdata_dir
from gateway.events import AudioFormat
from gateway.media import CallerAudio
from gateway.session.runner import machine_config
from modalities.audio.files import read_audio
from modalities.speech.endpointing import TurnEnded
from modalities.speech.listener import SpeechListener
from models.vad_silero import SileroVad

pytestmark = pytest.mark.slow




def _turn_ends(vad: SileroVad, fmt: AudioFormat) -> tuple[list[int], int]:
    """Media times (ms) of the turn ends the session's own endpointing finds on jfk.wav sent in fmt."""
    root = realdata_dir()
    if root is None or not (root / "speech" / "jfk.wav").is_file():
        pytest.skip("../shared/realdata/speech/jfk.wav is absent (set GATEWAY_REALDATA)")
    audio, rate = read_audio(root / "speech" / "jfk.wav")
    config = machine_config(Settings(), "en", caller_rate=fmt.sample_rate).endpoint
    vad.reset()
    listener = SpeechListener(vad, config)
    caller = CallerAudio(fmt)
    ends: list[int] = []
    trailing = np.zeros(rate * 3, np.float32)  # 3 s of line silence after the caller stops
    for frame in [*encode_frames(audio, rate, fmt), *encode_frames(trailing, rate, fmt)]:
        ends += [e.speech_end_ms for e in listener.feed(caller.decode(frame)) if isinstance(e, TurnEnded)]
    return ends, len(audio) * 1000 // rate


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", [AudioFormat("mulaw", 8000), AudioFormat("pcm16", 16000)],
                         ids=["phone-8k-mulaw", "wideband-16k"])
def test_the_mid_sentence_pause_does_not_end_the_turn(vad: SileroVad, fmt: AudioFormat) -> None:
    ends, length_ms = _turn_ends(vad, fmt)
    # One turn, ending with Kennedy's last word (the recording has about 0.5 s of silence after it).
    assert len(ends) == 1 and ends[0] > length_ms - 1500, (ends, length_ms)


def test_only_narrowband_callers_get_the_narrowband_threshold() -> None:
    s = Settings()
    assert machine_config(s, "en", caller_rate=8000).endpoint.threshold == s.speech.narrowband_vad_threshold
    for rate in (16000, 48000):
        assert machine_config(s, "en", caller_rate=rate).endpoint.threshold == s.speech.vad_threshold
