"""`gateway loadtest` as a user runs it: its own process, real recordings in real time, against a
gateway over the public protocol. Checked here: it counts what it measured (no timing thresholds),
and scores what the gateway heard against the recordings' reference texts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gateway.cli.loadtest import offline_voiced_span
from modalities.audio.files import read_audio
from modalities.audio.speech_spans import speech_span
from tests.conftest import PROJECT, SAMPLES, GatewayThread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def barge_ins(gateway: GatewayThread) -> float:
    with urllib.request.urlopen(f"{gateway.http}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(r"^gateway_barge_ins_total (\S+)$", text, re.M)
    assert match is not None
    return float(match[1])


def test_one_real_time_caller_is_answered_without_being_talked_over(live_gateway: GatewayThread) -> None:
    """The caller also listens to each reply to its end before it speaks again, as a person
    does: the gateway sends reply audio ahead of real time, and a caller who spoke once it had
    arrived would cut every reply short (a barge-in at the gateway)."""
    stopped_before = barge_ins(live_gateway)
    command = [sys.executable, "-m", "gateway.cli.main", "loadtest", live_gateway.url, "--json",
               "--audio", str(SAMPLES / "audio" / "en_question_returns.wav"),
               "--callers", "1", "--turns", "2", "--language", "en", "--timeout", "60"]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["admitted"] == 1 and figures["turns"] == 2
    assert figures["answered"] == 2 and figures["unanswered"] == 0
    assert figures["talked_over"] == 0
    assert figures["latency_p50_ms"] > 0
    # the sample says "Hello, how long do I have to return an item?" (gateway/speech_references.py)
    assert figures["wer_turns"] == 2 and figures["wer_reference_words"] == 20, figures
    assert 0 <= figures["wer_percent"] < 50, figures
    assert figures["cer_turns"] == 0 and figures["cer_percent"] is None
    assert figures["unscored"] == []
    assert barge_ins(live_gateway) == stopped_before


def test_what_the_gateway_heard_of_kennedy_is_scored(live_gateway: GatewayThread) -> None:
    """jfk.wav through tiny.en (the English default): its long pauses may split the turn, whose
    finals are then joined; the text report gives the word error rate and its counts."""
    path = PROJECT.parent / "shared" / "realdata" / "speech" / "jfk.wav"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    command = [sys.executable, "-m", "gateway.cli.main", "loadtest", live_gateway.url, "--audio", str(path),
               "--callers", "1", "--turns", "1", "--language", "en", "--timeout", "60"]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next((x for x in done.stdout.splitlines() if x.startswith("word error rate")), "")
    match = re.search(r": ([0-9.]+)% \((\d+) edits / 22 reference words, 1 turn\)", line)
    assert match is not None, done.stdout
    assert float(match[1]) < 50 and int(match[2]) < 11, done.stdout
    assert "not scored" not in done.stdout and "character error rate" not in done.stdout


def test_a_silent_recording_is_refused_with_a_clear_line(tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "loadtest", "ws://127.0.0.1:9/ws",
                           "--audio", str(silent)], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no speech found" in done.stdout


def test_the_end_of_speech_is_where_the_words_end_not_the_noise_after_them() -> None:
    """jfk.wav's last 0.5 s is crowd noise: counted as speech (the energy rule), a reply 300 ms
    after "your country." would be judged as talking over Kennedy."""
    path = PROJECT.parent / "shared" / "realdata" / "speech" / "jfk.wav"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    audio, rate = read_audio(path)
    span = offline_voiced_span(audio, rate)
    assert span is not None and 10.2 <= span.end_s <= 10.6
    by_energy = speech_span(audio, rate)
    assert by_energy is not None and by_energy.end_s > span.end_s + 0.3
