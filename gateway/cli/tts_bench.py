"""`gateway bench tts-zh`: the Mandarin voices side by side on the knowledge base's own answers.

In-process (the engines called directly). For each voice (espeak-ng, Kokoro) and each Mandarin
FAQ answer of the knowledge base: time to first audio (first clause ready), real-time factor
(compute time over audio time, wall and CPU), and intelligibility by round trip: the audio is
transcribed by Whisper base (own-length decode, language zh, no vocabulary bias) and scored by
character error rate against the answer, both sides with numbers written out in Chinese
(`zh_speech_text.normalise`) so "30天" and "三十天" count as the same. `--evidence DIR` writes
the first two answers of each voice as FLAC for people to listen to.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import yaml

from gateway.cli.groups import CommandGroups
from gateway.config import load_settings
from gateway.errors import ModelUnavailable
from gateway.evaluation import char_error_rate
from modalities.audio.resample import resample
from models.base import Synthesizer


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("tts-zh", help="Mandarin voices: first audio, RTF, round-trip CER")
    p.add_argument("--voices", default="espeak-ng,kokoro", help="comma-separated: espeak-ng, kokoro")
    p.add_argument("--limit", type=int, default=8, help="answers to speak (the FAQ's first N)")
    p.add_argument("--evidence", default="", help="folder for the first 2 answers of each voice (FLAC)")
    p.set_defaults(func=run)


def answers(kb: Path, limit: int) -> list[str]:
    faq = kb / "zh" / "faq.yaml"
    items = yaml.safe_load(faq.read_text(encoding="utf-8")) if faq.exists() else []
    return [str(i["answer"]) for i in items if isinstance(i, dict) and i.get("answer")][:limit]


def run(args: argparse.Namespace) -> int:
    from models.asr_faster_whisper import FasterWhisperTranscriber
    from models.zh_speech_text import normalise

    settings = load_settings(args.config)
    texts = answers(settings.core.kb_folder(), args.limit)
    if not texts:
        print("no Mandarin FAQ answers found (core.kb_path/zh/faq.yaml)")
        return 2
    asr = FasterWhisperTranscriber("base")
    print(f"{len(texts)} Mandarin knowledge-base answers; in-process; round trip through Whisper base")
    try:
        for name in [v.strip() for v in args.voices.split(",") if v.strip()]:
            try:
                synth = _voice(name, settings.voice.espeak_words_per_minute)
            except ModelUnavailable as exc:
                print(f"{name}: unavailable ({exc})")
                continue
            first, rtf, cpu_rtf, cers = [], [], [], []
            try:
                for i, text in enumerate(texts):
                    c0, w0 = time.process_time(), time.perf_counter()
                    chunks = synth.synthesize(text, language="zh")
                    head = next(iter(chunks))
                    first.append((time.perf_counter() - w0) * 1000)
                    audio = np.concatenate([head, *chunks])
                    seconds = audio.size / synth.info.sample_rate
                    rtf.append((time.perf_counter() - w0) / seconds)
                    cpu_rtf.append((time.process_time() - c0) / seconds)
                    heard = asr.transcribe(resample(audio.astype(np.float32) / 32768.0,
                                                    synth.info.sample_rate, 16000), language="zh").text
                    cers.append(char_error_rate(normalise(text), normalise(heard)))
                    print(f"  {name:9} CER {cers[-1] * 100:5.1f}%  first audio {first[-1]:6.0f} ms  "
                          f"{seconds:4.1f} s  heard: {heard[:40]}")
                    if args.evidence and i < 2:
                        out = Path(args.evidence) / f"zh_{name}_{i + 1}.flac"
                        _write_flac(out, audio, synth.info.sample_rate)
            finally:
                synth.close()
            print(f"{name}: round-trip CER mean {statistics.fmean(cers) * 100:.1f}%  first audio ms p50 "
                  f"{statistics.median(first):.0f} max {max(first):.0f}  real-time factor wall p50 "
                  f"{statistics.median(rtf):.3f}  cpu p50 {statistics.median(cpu_rtf):.3f}")
    finally:
        asr.close()
    return 0


def _voice(name: str, wpm: int) -> Synthesizer:
    if name == "kokoro":
        from models.tts_kokoro import KokoroSynthesizer

        return KokoroSynthesizer()
    if name == "espeak-ng":
        from models.tts_espeak import EspeakSynthesizer

        return EspeakSynthesizer(words_per_minute=wpm)
    raise ModelUnavailable(f"unknown voice {name!r}")


def _write_flac(path: Path, audio: np.ndarray, rate: int) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio.astype(np.int16), rate, subtype="PCM_16")  # lossless, half a WAV
