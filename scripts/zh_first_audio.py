"""Time to first audio of a Mandarin reply: the whole first sentence (before) against the short
opening piece (`speakable_pieces(..., short_start=True)`), for espeak-ng and Kokoro, in-process.

The gateway synthesises a piece whole before sending its audio (Engines.synthesize), so the first
audio waits for the first piece. Kokoro's clause cache is off (cache_bytes=0): every call is cold.

    PYTHONPATH=. python scripts/zh_first_audio.py [--voices espeak-ng,kokoro]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from modalities.voice.clauses import speakable_pieces
from models.base import Synthesizer

KB = Path(__file__).resolve().parents[1] / "samples" / "kb"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--voices", default="espeak-ng,kokoro")
    args = p.parse_args()
    answers = [str(i["answer"]) for i in yaml.safe_load((KB / "zh" / "faq.yaml").read_text("utf-8"))]
    for name in args.voices.split(","):
        synth: Synthesizer
        if name == "kokoro":
            from models.tts_kokoro import KokoroSynthesizer

            synth = KokoroSynthesizer(cache_bytes=0)
        else:
            from models.tts_espeak import EspeakSynthesizer

            synth = EspeakSynthesizer()
        list(synth.synthesize("您好。", language="zh"))  # warm-up
        result: dict[str, list[float]] = {"whole": [], "short": []}
        for text in answers:
            for mode in ("whole", "short"):
                first = speakable_pieces(text, short_start=mode == "short")[0]
                c0, w0 = time.process_time(), time.perf_counter()
                audio = list(synth.synthesize(first, language="zh"))
                wall, cpu = (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000
                result[mode].append(wall)
                seconds = sum(a.size for a in audio) / synth.info.sample_rate
                print(f"  {name:9} {mode:5} {len(first):3d} chars {seconds:4.1f} s audio  first audio "
                      f"{wall:6.0f} ms wall {cpu:6.0f} ms CPU  {first}", flush=True)
        for mode, values in result.items():
            print(f"{name:9} {mode:5} first audio ms p50 {statistics.median(values):6.0f}  "
                  f"max {max(values):6.0f}  (n={len(values)})", flush=True)
        synth.close()


if __name__ == "__main__":
    main()
