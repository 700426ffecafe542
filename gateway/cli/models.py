"""`gateway models verify` and `gateway bench engines`: the weights and the speech engines alone.

`models verify` resolves every manifest entry (locate, join, sha256) and prints where it lives,
its licence, and the time taken with a cold verification cache against a warm one.
`bench engines` loads each voice engine and prints load time, then p50/p95 of its per-call
cost on the project's samples: ASR real-time factor, VAD cost per second of audio, TTS time to
first audio and real-time factor. No pass/fail: figures only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from gateway.cli.groups import CommandGroups
from gateway.errors import GatewayError

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "audio"


def register(groups: CommandGroups) -> None:
    models = groups.top.add_parser("models", help="model weights").add_subparsers(
        dest="models", required=True, metavar="ACTION")
    verify = models.add_parser("verify", help="locate, join and sha256-check every manifest entry")
    verify.set_defaults(func=_verify)
    bench = groups.bench.add_parser("engines", help="load time and real-time factor of each voice engine")
    bench.add_argument("--repeat", type=int, default=5, help="timed calls per measurement (default 5)")
    bench.set_defaults(func=_bench)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _verify(args: argparse.Namespace) -> int:
    from models.weights import WeightResolver, default_cache_dir

    failures = 0
    with tempfile.TemporaryDirectory() as cold_dir:
        cold = WeightResolver(cache_dir=Path(cold_dir))
        warm = WeightResolver(cache_dir=default_cache_dir())
        for name, entry in sorted(warm.entries.items()):
            try:
                start = time.perf_counter()
                cold.resolve(name)
                cold_ms = (time.perf_counter() - start) * 1000
                warm.resolve(name)  # fills the warm cache if this is the first run
                start = time.perf_counter()
                path = warm.resolve(name)
                warm_ms = (time.perf_counter() - start) * 1000
            except GatewayError as exc:
                failures += 1
                print(f"FAIL {name}: {exc}")
                continue
            size = sum(f.bytes for f in entry.files)
            print(f"ok   {name:36s} {size / 1e6:8.1f} MB  cold {cold_ms:7.1f} ms  warm {warm_ms:6.1f} ms  "
                  f"ratio {cold_ms / max(warm_ms, 1e-3):5.1f}x  {path}  [{entry.licence}]")
    return 1 if failures else 0


def _timed(func: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        out.append(time.perf_counter() - start)
    return out


def _first_and_total(chunks: Callable[[], Iterator[np.ndarray]]) -> tuple[float, float, int]:
    start = time.perf_counter()
    first, samples = 0.0, 0
    for chunk in chunks():
        if not samples:
            first = time.perf_counter() - start
        samples += chunk.size
    return first, time.perf_counter() - start, samples


def _clips() -> list[tuple[str, str, np.ndarray]]:
    """(label, language, 16 kHz audio): the project's samples, plus real speech when present."""
    from gateway.evaluation import realdata_dir
    from modalities.audio.files import read_audio

    paths = [("sample-en", "en", SAMPLES / "en_question_returns.wav"),
             ("sample-zh", "zh", SAMPLES / "zh_question_returns.wav")]
    real = realdata_dir()
    if real is not None:
        paths += [("jfk", "en", real / "speech" / "jfk.wav"),
                  ("aishell", "zh", real / "speech" / "aishell-BAC009S0724W0121.wav")]
    clips = []
    for label, language, path in paths:
        audio, rate = read_audio(path)
        if rate == 16000:
            clips.append((label, language, audio))
    return clips


def _bench(args: argparse.Namespace) -> int:
    repeat = max(1, args.repeat)
    clips = _clips()
    print(f"{repeat} timed calls per line after one warm-up call; clips: "
          + ", ".join(f"{label} {audio.size / 16000:.2f} s" for label, _, audio in clips))

    from models.vad_silero import SileroVad

    start = time.perf_counter()
    vad = SileroVad()
    load = time.perf_counter() - start
    en = clips[0][2]
    windows = [en[i : i + 512] for i in range(0, en.size - 511, 512)]

    def run_vad() -> None:
        vad.reset()
        for w in windows:
            vad.probability(w)

    run_vad()
    costs = [t / (len(windows) * 512 / 16000) * 1000 for t in _timed(run_vad, repeat)]
    print(f"silero-vad       load {load:5.2f} s  ms per audio second p50 {_pct(costs, 50):5.2f} "
          f"p95 {_pct(costs, 95):5.2f}")
    vad.close()

    from models.asr_faster_whisper import FasterWhisperTranscriber, WhisperSize

    sizes: list[WhisperSize] = ["tiny.en", "base"]
    for size in sizes:
        start = time.perf_counter()
        asr = FasterWhisperTranscriber(size)
        load = time.perf_counter() - start
        print(f"whisper {size:8s} load {load:5.2f} s")
        for label, language, audio in clips:
            if language not in asr.info.languages:
                continue
            for given in (language, None) if size == "base" else (language,):
                call = partial(asr.transcribe, audio, language=given)
                text = call().text
                rtf = [t / (audio.size / 16000) for t in _timed(call, repeat)]
                print(f"  {label:9s} language={given or 'auto':4s} real-time factor p50 {_pct(rtf, 50):5.3f} "
                      f"p95 {_pct(rtf, 95):5.3f}  {text[:40]!r}")
        asr.close()

    from models.tts_espeak import EspeakSynthesizer
    from models.tts_piper import PiperSynthesizer

    texts = {"en": "You can return an item within thirty days of delivery. Keep the receipt, please.",
             "zh": "您可以在收货后三十天内退货。请保留收据。"}
    factories: list[tuple[str, Callable[[], PiperSynthesizer | EspeakSynthesizer], list[str]]] = [
        ("piper joe", PiperSynthesizer, ["en"]), ("espeak-ng", EspeakSynthesizer, ["en", "zh"])]
    for label, factory, languages in factories:
        start = time.perf_counter()
        tts = factory()
        load = time.perf_counter() - start
        print(f"{label:16s} load {load:5.2f} s")
        for language in languages:
            speak = partial(tts.synthesize, texts[language], language=language)
            _first_and_total(speak)
            runs = [_first_and_total(speak) for _ in range(repeat)]
            first = [r[0] * 1000 for r in runs]
            rtf = [r[1] / (r[2] / tts.info.sample_rate) for r in runs]
            print(f"  {language} first audio ms p50 {_pct(first, 50):6.1f} p95 {_pct(first, 95):6.1f}  "
                  f"real-time factor p50 {_pct(rtf, 50):5.3f} p95 {_pct(rtf, 95):5.3f}")
        tts.close()
    return 0
