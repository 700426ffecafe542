"""What the known recordings say: the one table of reference transcripts.

Used by `gateway bench voice`, `gateway eval asr`, `gateway bench asr` (which stream or decode
these files) and `gateway loadtest` (which scores what the gateway heard of any of them a caller
spoke). The real recordings are in ../shared/realdata/speech (their README gives the same texts;
several are what a model printed in the source repository, not a human transcription, so they are
scored with normalisation, never exact-matched); the project's own samples are in samples/audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.evaluation import realdata_dir, written_in_characters

PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Clip:
    path: Path
    reference: str
    single_utterance: bool  # one sentence: any reply before its end answered a pause

    @property
    def language(self) -> str:
        """"zh" for a reference in Chinese characters (scored by character), else "en" (by word)."""
        return "zh" if written_in_characters(self.reference) else "en"


def realdata_clips(real: Path) -> list[Clip]:
    s = real / "speech"
    return [
        Clip(s / "jfk.wav", "And so my fellow Americans ask not what your country can do for you "
             "ask what you can do for your country.", True),
        Clip(s / "librispeech-1995-1837-0001.wav", "IT WAS THE FIRST GREAT SORROW OF HIS LIFE IT WAS "
             "NOT SO MUCH THE LOSS OF THE COTTON ITSELF BUT THE FANTASY THE HOPES THE DREAMS BUILT "
             "AROUND IT", True),
        Clip(s / "OSR_us_000_0034_8k.wav", "A gold ring will please most any girl. The long journey "
             "home took a year. She saw a cat in the neighbor's house. A pink shell was found on the "
             "sandy beach. Small children came to see him. The grass and bushes were wet with dew. "
             "The blind man counted his old coins. A severe storm tore down the barn. She called his "
             "name many times. When you hear the bell, come quickly.", False),
        Clip(s / "aishell-BAC009S0724W0121.wav", "广州市房地产中介协会分析", True),
        Clip(s / "funasr_llamacpp_sample_zh.wav", "我想问我在滨海新区有房", True),
    ]


def sample_clips() -> list[Clip]:
    a = PROJECT / "samples" / "audio"
    return [Clip(a / "en_question_returns.wav", "Hello, how long do I have to return an item?", True),
            Clip(a / "zh_question_returns.wav", "我想退货，需要多长时间？", True)]


def clips() -> list[Clip]:
    """The benches' recordings: the real ones when ../shared/realdata is there, else the samples."""
    real = realdata_dir()
    return realdata_clips(real) if real is not None else sample_clips()


def known_reference(path: Path) -> str | None:
    """The reference transcript of a recording in the table (matched by its resolved path, so a
    different file of the same name is never scored against it); None when it is not there."""
    real = realdata_dir()
    table = [*(realdata_clips(real) if real is not None else []), *sample_clips()]
    wanted = path.resolve()
    return next((c.reference for c in table if c.path.resolve() == wanted), None)
