"""`gateway bench voice` and `gateway eval asr`: the voice loop measured on real speech.

Each file is streamed in real time (as a caller speaks) to a gateway running in this process on
loopback, once per ASR model. Printed: word/character error rate of the gateway's transcripts,
reply latency (last voiced caller audio -> first reply audio frame sent) p50/p95, replies started
during a caller's mid-sentence pauses, ASR real-time factor and TTS time to first audio.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.client import GatewayClient, settle
from gateway.config import Settings, load_settings
from gateway.engines import Engines
from gateway.evaluation import char_error_rate, percentile, realdata_dir, word_error_rate
from gateway.events import AudioFormat
from gateway.speech_references import clips
from modalities.audio.files import read_audio
from modalities.audio.resample import resample

PROJECT = Path(__file__).resolve().parents[2]


def register(groups: CommandGroups) -> None:
    for group, name, help_text in ((groups.bench, "voice", "reply latency, ASR RTF, TTS first audio"),
                                   (groups.eval, "asr", "word/character error rate through the gateway")):
        p = group.add_parser(name, help=help_text)
        p.add_argument("--models", default="tiny.en,base", help="ASR models to run (comma-separated)")
        p.add_argument("--repeats", type=int, default=1, help="calls per file and model")
        p.add_argument("--fast", action="store_true", help="stream as fast as possible (no latency)")
        p.add_argument("--encoding", default="pcm16", choices=("pcm16", "mulaw"))
        p.add_argument("--no-baseline", action="store_true",
                       help="skip the baseline (fixed 600 ms silence, transcribe after the turn)")
        p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(f"speech source: {'../shared/realdata' if realdata_dir() else 'samples/audio (realdata absent)'}")
    ok = True
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        ours = asyncio.run(_bench_model(settings, model, args, baseline=False))
        ok &= ours.pause_replies == 0
        if args.no_baseline or args.fast:
            continue
        base = asyncio.run(_bench_model(settings, model, args, baseline=True))
        print(f"\n{model}: reply latency p50 {ours.p50:.0f} ms vs baseline {base.p50:.0f} ms "
              f"(ratio {ours.p50 / base.p50:.2f}); p95 {ours.p95:.0f} vs {base.p95:.0f} ms; "
              f"pause replies {ours.pause_replies} vs {base.pause_replies}")
    return 0 if ok else 1


@dataclass(frozen=True)
class Figures:
    p50: float
    p95: float
    pause_replies: int


async def _bench_model(settings: Settings, model: str, args: argparse.Namespace, *,
                       baseline: bool) -> Figures:
    from gateway.local import local_gateway

    speech = dataclasses.replace(settings.speech, asr_model=model)
    if baseline:  # the conventional pipeline: fixed silence endpoint, ASR only after it
        speech = dataclasses.replace(speech, transcribe_in_pauses=False, end_silence_ms=600,
                                     pause_factor=0.0)
    settings = dataclasses.replace(
        settings, speech=speech,
        store=dataclasses.replace(settings.store, path=str(PROJECT / "var" / "bench.sqlite3")),
        # One caller at a time: a busy machine must slow the figures, not refuse the bench's calls.
        admission=dataclasses.replace(settings.admission, mode="static"))
    latencies: list[float] = []
    pause_replies = 0
    print(f"\n== ASR model {model}, {'baseline: 600 ms silence then ASR' if baseline else 'gateway'} ==")
    async with local_gateway(settings) as local:
        for clip in clips():
            if model == "tiny.en" and clip.language != "en":
                continue
            audio, rate = read_audio(clip.path, max_bytes=50_000_000, max_seconds=120)
            fmt = AudioFormat("mulaw", 8000) if args.encoding == "mulaw" else AudioFormat("pcm16", 16000)
            for _ in range(args.repeats):
                async with GatewayClient(local.url, audio=fmt, language="auto") as client:
                    await client.stream(audio, rate, realtime=not args.fast, trailing_silence_s=2.5)
                    await settle(client.result, timeout=60.0, quiet_s=1.0)
                result = client.result
                text = ("" if clip.language == "zh" else " ").join(result.transcripts)
                err = (char_error_rate if clip.language == "zh" else word_error_rate)(clip.reference, text)
                turns = result.of("turn.timing")
                lat = [t["reply_latency_ms"] for t in turns if t.get("reply_latency_ms") is not None]
                latencies += lat
                early = max(0, len(turns) - 1) if clip.single_utterance else 0
                pause_replies += early
                replies = result.replies()
                print(f"{clip.path.name:<36} {'CER' if clip.language == 'zh' else 'WER'} {err * 100:5.1f}%  "
                      f"turns {len(turns)}  latency ms {[round(x) for x in lat]}  pause-replies {early}")
                print(f"    heard: {text}")
                if replies:
                    print(f"    reply: {next(iter(replies.values()))[:100]}")
        if not baseline:
            engines = local.gateway.engines
            rtf = await asyncio.to_thread(_asr_rtf, engines, model)
            tts = await asyncio.to_thread(_tts_first_audio, engines)
            print(f"ASR real-time factor ({model}, whole files): p50 {percentile(rtf, 50):.3f}  "
                  f"p95 {percentile(rtf, 95):.3f}")
            print(f"TTS time to first audio ms (piper, 45-character clause): p50 {percentile(tts, 50):.0f}  "
                  f"p95 {percentile(tts, 95):.0f}")
    figures = Figures(percentile(latencies, 50), percentile(latencies, 95), pause_replies)
    if latencies and not args.fast:
        print(f"reply latency ms ({model}): p50 {figures.p50:.0f}  p95 {figures.p95:.0f}  n={len(latencies)}")
    print(f"replies started during mid-sentence pauses (single-utterance files): {pause_replies}")
    return figures


def _asr_rtf(engines: Engines, model: str) -> list[float]:
    asr = engines.transcriber(model)
    out = []
    for clip in clips():
        if model == "tiny.en" and clip.language != "en":
            continue
        audio, rate = read_audio(clip.path, max_bytes=50_000_000, max_seconds=120)
        audio16 = resample(audio, rate, 16000) if rate != 16000 else audio
        started = time.perf_counter()
        asr.transcribe(audio16, language=clip.language)
        out.append((time.perf_counter() - started) / (len(audio16) / 16000))
    return out


def _tts_first_audio(engines: Engines, runs: int = 5) -> list[float]:
    synth = engines.synthesizer("en")
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        next(iter(synth.synthesize("You can return most items within 30 days.", language="en")))
        out.append((time.perf_counter() - started) * 1000)
    return out


