"""Mandarin decoding choices judged on a synthetic dev set (never on the real recordings).

The dev set: caller-like Mandarin sentences from the knowledge base (the FAQ questions and the
intents' Mandarin examples, every sixth one) plus code-switched sentences written here (English
product and payment names inside Chinese), spoken by Kokoro-82M with two voices (jm_kumo,
jf_alpha) and by the project's two espeak samples. Each decoding configuration transcribes every
clip with Whisper base (own-length decode, language zh) and is scored by CER (numbers written out
on both sides) and by how many English words were kept; CPU seconds per second of speech too.

    PYTHONPATH=. python scripts/zh_asr_dev.py --cache /tmp/zhdev [--configs base,prompt,...]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "samples" / "kb"
MIXED = ["我的iPhone坏了，可以保修吗？", "可以用PayPal付款吗？", "我想开通Plus会员。",
         "Visa卡被扣了两次钱。", "我的MacBook充不了电。", "订单号是MLH123456，到哪了？"]
SAMPLES = {"zh_question_returns.wav": "我想退货，需要多长时间？",
           "zh_mixed_iphone.wav": "我的iPhone坏了，可以保修吗？"}
PROMPTS = {"prompt-plain": "以下是普通话的句子。",
           "prompt-service": "您好，这里是客服中心，请问有什么可以帮您？",
           "prompt-mixed": "您好，请问您的订单号是多少？我用PayPal付款了。"}


def sentences() -> list[str]:
    faq = yaml.safe_load((KB / "zh" / "faq.yaml").read_text(encoding="utf-8"))
    out = [str(i["question"]) for i in faq]
    intents = yaml.safe_load((KB / "intents.yaml").read_text(encoding="utf-8"))
    examples: list[str] = []
    for intent in intents.get("intents", intents) if isinstance(intents, dict) else intents:
        ex = intent.get("examples", {}) if isinstance(intent, dict) else {}
        examples += [str(e) for e in (ex.get("zh", []) if isinstance(ex, dict) else [])]
    return out + examples[::6] + MIXED


def dev_set(cache: Path) -> list[tuple[str, str, np.ndarray]]:
    from modalities.audio.files import read_audio
    from modalities.audio.resample import resample

    cache.mkdir(parents=True, exist_ok=True)
    clips: list[tuple[str, str, np.ndarray]] = []
    synth, current = None, ""
    for voice in ("jm_kumo", "jf_alpha"):
        for i, text in enumerate(sentences()):
            path = cache / f"{voice}_{i:02d}.wav"
            if not path.exists():
                if synth is None or current != voice:
                    from models.tts_kokoro import KokoroSynthesizer

                    synth, current = KokoroSynthesizer(voice=voice), voice
                audio = np.concatenate(list(synth.synthesize(text, language="zh")))
                soundfile.write(str(path), audio.astype(np.int16), synth.info.sample_rate)
            audio, rate = read_audio(path)
            clips.append((f"{voice}_{i:02d}", text, resample(audio, rate, 16000)))
    for name, text in SAMPLES.items():
        audio, rate = read_audio(ROOT / "samples" / "audio" / name)
        clips.append((name, text, audio if rate == 16000 else resample(audio, rate, 16000)))
    return clips


def latin(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", text)}


def main() -> None:
    from gateway.evaluation import char_error_rate
    from modalities.speech.vocabulary import vocabulary
    from models.asr_faster_whisper import FasterWhisperTranscriber
    from models.zh_speech_text import normalise

    p = argparse.ArgumentParser()
    p.add_argument("--cache", default="/tmp/zhdev")
    p.add_argument("--configs", default="base,no-vocab,vocab-60,vocab-240,beam5,"
                   + ",".join(PROMPTS))
    args = p.parse_args()
    clips = dev_set(Path(args.cache))
    seconds = sum(a.size for _, _, a in clips) / 16000
    print(f"dev set: {len(clips)} clips, {seconds:.0f} s of speech")
    for config in args.configs.split(","):  # parts joined by "+": "beam5+prompt-plain"
        parts = config.split("+")
        sizes = (("no-vocab", 0), ("vocab-60", 60), ("vocab-240", 240))
        chars = next((c for k, c in sizes if k in parts), 120)
        vocab = {"zh": vocabulary(KB, "zh", max_chars=chars)} if chars else {}
        named = [PROMPTS[k] for k in parts if k in PROMPTS]
        prompts = {"zh": named[-1]} if named else {}
        beam = next((int(k[4:]) for k in parts if k.startswith("beam")), 1)
        asr = FasterWhisperTranscriber("base", beam_size=beam, vocabulary=vocab, prompts=prompts)
        asr.transcribe(clips[0][2], language="zh")  # warm-up
        cers, kept, wanted = [], 0, 0
        cpu0 = time.process_time()
        for name, text, audio in clips:
            heard = asr.transcribe(audio, language="zh").text
            cers.append(char_error_rate(normalise(text), normalise(heard)))
            kept += len(latin(text) & latin(heard))
            wanted += len(latin(text))
            if config == "base" or cers[-1] > 0.5:
                print(f"   {config:14} {name:24} CER {cers[-1] * 100:5.1f}%  {heard}")
        cpu = (time.process_time() - cpu0) / seconds
        print(f"{config:14} CER mean {statistics.fmean(cers) * 100:5.1f}%  median "
              f"{statistics.median(cers) * 100:5.1f}%  English words kept {kept}/{wanted}  "
              f"CPU s per s of speech {cpu:.3f}  counts {asr.counts}", flush=True)
        asr.close()


if __name__ == "__main__":
    main()
