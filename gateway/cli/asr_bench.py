"""`gateway bench asr`: ASR compute per second of speech, padded 30-s decode against own length.

In-process figures (the engine called directly, no gateway, no network): for each model and each
real recording, one warm-up call and `--repeat` timed calls of the padded decode (faster-whisper's
30-s window, what the gateway did before) and of the own-length decode, with the language given.
Printed per file: CPU seconds per second of speech (process time: all threads, what a second
caller competes for), wall seconds per second of speech, the error rate and the text. Mandarin
files are also decoded with the tenant vocabulary (the knowledge base's terms as hotwords), as
the gateway does for its multilingual model.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

from gateway.cli.groups import CommandGroups
from gateway.config import load_settings
from gateway.evaluation import char_error_rate, realdata_dir, word_error_rate
from gateway.speech_references import Clip, clips
from modalities.audio.files import read_audio
from modalities.audio.resample import resample
from models.base import Transcriber


@dataclass(frozen=True)
class Row:
    cpu_per_s: float
    wall_per_s: float
    error: float
    text: str


def register(groups: CommandGroups) -> None:
    p = groups.bench.add_parser("asr", help="ASR compute per second of speech: padded vs own-length decode")
    p.add_argument("--models", default="tiny.en,base", help="comma-separated: tiny.en, base")
    p.add_argument("--repeat", type=int, default=3, help="timed calls per file and mode (median printed)")
    p.add_argument("--threads", type=int, default=1, help="threads per call (1: least disturbed)")
    p.add_argument("--beam", type=int, default=1, help="beam size")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modalities.speech.vocabulary import vocabulary
    from models.asr_faster_whisper import FasterWhisperTranscriber

    settings = load_settings(args.config)
    words = vocabulary(settings.core.kb_folder(), "zh")
    print(f"speech source: {'../shared/realdata' if realdata_dir() else 'samples/audio (realdata absent)'}; "
          f"in-process, {args.threads} thread(s), beam {args.beam}, median of {args.repeat}")
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        if model not in ("tiny.en", "base"):
            print(f"unknown model {model!r}")
            return 2
        chosen = [c for c in clips() if model != "tiny.en" or c.language == "en"]
        modes: list[tuple[str, bool, dict[str, str] | None]] = [
            ("padded", False, None), ("own-length", True, None)]
        if model == "base" and any(c.language == "zh" for c in chosen):
            modes.append(("own+vocabulary", True, {"zh": words}))
        totals: dict[str, list[float]] = {}
        for mode, own, voc in modes:
            asr = FasterWhisperTranscriber("tiny.en" if model == "tiny.en" else "base", threads=args.threads,
                                           beam_size=args.beam, variable_length=own, vocabulary=voc)
            try:
                for clip in chosen:
                    if voc is not None and clip.language != "zh":
                        continue
                    row = _measure(asr, clip, args.repeat)
                    totals.setdefault(f"{mode} {clip.language}", []).append(row.cpu_per_s)
                    seconds = _seconds(clip)
                    note = " (>30 s: padded in every mode)" if seconds > 30 else ""
                    kind = "CER" if clip.language == "zh" else "WER"
                    print(f"{model:7} {mode:15} {clip.path.name[:30]:30} {seconds:5.1f} s  "
                          f"cpu s/s {row.cpu_per_s:.3f}  wall s/s {row.wall_per_s:.3f}  "
                          f"{kind} {row.error * 100:5.1f}%{note}  {row.text[:60]}")
            finally:
                asr.close()
        for key, values in totals.items():
            mean = statistics.fmean(values)
            print(f"{model:7} {key:18} mean cpu s per s of speech {mean:.3f}  (n={len(values)})")
    return 0


def _seconds(clip: Clip) -> float:
    audio, rate = read_audio(clip.path, max_bytes=50_000_000, max_seconds=120)
    return len(audio) / rate


def _measure(asr: Transcriber, clip: Clip, repeat: int) -> Row:
    audio, rate = read_audio(clip.path, max_bytes=50_000_000, max_seconds=120)
    audio16 = resample(audio, rate, 16000) if rate != 16000 else audio
    seconds = len(audio16) / 16000
    transcribe = asr.transcribe
    result = transcribe(audio16, language=clip.language)  # warm-up (first calls are slower)
    cpu, wall = [], []
    for _ in range(max(1, repeat)):
        c0, w0 = time.process_time(), time.perf_counter()
        result = transcribe(audio16, language=clip.language)
        cpu.append((time.process_time() - c0) / seconds)
        wall.append((time.perf_counter() - w0) / seconds)
    text = result.text
    err = (char_error_rate if clip.language == "zh" else word_error_rate)(clip.reference, text)
    return Row(statistics.median(cpu), statistics.median(wall), err, text)
