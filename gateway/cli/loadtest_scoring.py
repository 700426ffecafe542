"""What `gateway loadtest`'s callers were heard to say, scored against what they said.

From the caller's side of the wire: on protocol v1 the gateway sends a `transcript.final` for
each caller turn (docs/protocol.md). The phone wires (Twilio media stream, AudioSocket) carry no
transcripts, so there the error rate is not measured (null), never guessed.

Attribution. A caller speaks its recordings one after another on one session, and the gateway
hears them in that order. A final belongs to the recording whose speech had begun last when the
final arrived: from the first voiced frame of one recording to the first voiced frame of the next
(the last recording: to the end of the session). A turn the gateway ended early (a pause taken
for the end) comes as several finals: they are joined in the order they arrived (with spaces for
words, without for Chinese characters). A recording heard with no final scores every reference
word as deleted; a final so late that the next recording's speech had already begun counts
against the next recording, so a late final costs both turns and never flatters either.

Scoring. contracts/evaluation.py normalises case, punctuation and full/half width. References in
Chinese characters are scored by character (CER), all others by word (WER). Errors are pooled
over turns: the sum of edits over the sum of reference units, not a mean of per-turn rates. A
recording without a reference text (neither in gateway/speech_references.py nor given with
`--reference PATH=TEXT`) is not scored, and the report names it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.evaluation import char_errors, word_errors, written_in_characters
from gateway.speech_references import known_reference

Final = tuple[float, str]  # (wall time the caller received it, text) of one transcript.final


@dataclass(frozen=True)
class Spoken:
    """One turn a caller spoke."""

    recording: str
    reference: str | None  # None: not scored
    speech_start: float  # wall time at which the recording's first voiced frame was sent


def attribute(speech_starts: Sequence[float], finals: Sequence[Final]) -> list[list[str]]:
    """The texts heard for each spoken turn (its speech start to the next turn's), in arrival order."""
    ends = [*speech_starts[1:], math.inf]
    return [[text for t, text in finals if start <= t < end]
            for start, end in zip(speech_starts, ends, strict=True)]


def joined(reference: str, texts: Sequence[str]) -> str:
    return ("" if written_in_characters(reference) else " ").join(texts)


@dataclass
class Errors:
    edits: int = 0
    units: int = 0  # reference words (WER) or characters (CER)
    turns: int = 0

    def percent(self) -> float | None:
        return round(100 * self.edits / self.units, 1) if self.units else None


@dataclass
class Accuracy:
    measured: bool  # False: the wire carries no transcripts
    unscored: tuple[str, ...] = ()  # recordings without a reference text
    words: Errors = field(default_factory=Errors)
    chars: Errors = field(default_factory=Errors)

    def add(self, spoken: Sequence[Spoken], finals: Sequence[Final]) -> None:
        """One caller's session: its spoken turns and every final it received."""
        for turn, texts in zip(spoken, attribute([s.speech_start for s in spoken], finals), strict=True):
            if turn.reference is None:
                continue
            in_chars = written_in_characters(turn.reference)
            edits, units = (char_errors if in_chars else word_errors)(turn.reference,
                                                                       joined(turn.reference, texts))
            tally = self.chars if in_chars else self.words
            tally.edits += edits
            tally.units += units
            tally.turns += 1

    def figures(self) -> dict[str, object]:
        names = ("wer_percent", "wer_edits", "wer_reference_words", "wer_turns",
                 "cer_percent", "cer_edits", "cer_reference_chars", "cer_turns")
        if not self.measured:
            return {**dict.fromkeys(names), "unscored": None}
        w, c = self.words, self.chars
        values = (w.percent(), w.edits, w.units, w.turns, c.percent(), c.edits, c.units, c.turns)
        return {**dict(zip(names, values, strict=True)), "unscored": list(self.unscored)}


def reference_texts(given: Sequence[str], audio: Sequence[str]) -> dict[Path, str]:
    """--reference PATH=TEXT (repeatable) -> {resolved path: text}; each PATH must be one of --audio."""
    spoken = {Path(a).resolve() for a in audio}
    out: dict[Path, str] = {}
    for item in given:
        path, sep, text = item.partition("=")
        if not sep or not path or not text.strip():
            raise ValueError(f"--reference {item!r}: expected PATH=TEXT")
        if Path(path).resolve() not in spoken:
            raise ValueError(f"--reference {path}: not one of the --audio recordings")
        out[Path(path).resolve()] = text.strip()
    return out


def reference_for(path: str, given: Mapping[Path, str]) -> str | None:
    """The text given with --reference, else the known table's, else None (not scored)."""
    return given.get(Path(path).resolve()) or known_reference(Path(path))


def report_lines(f: Mapping[str, Any], protocol: str) -> list[str]:
    if f["wer_turns"] is None:
        return [f"word/character error rate: not measured (the {protocol} wire carries no transcripts)"]
    lines = []
    for metric, unit, kind in (("wer", "reference_words", "word error rate (references in words)"),
                               ("cer", "reference_chars", "character error rate (references in characters)")):
        if f[f"{metric}_turns"]:
            rate = f[f"{metric}_percent"]
            lines.append(f"{kind}: {'-' if rate is None else f'{rate:.1f}%'} "
                         f"({f[f'{metric}_edits']} edits / {f[f'{metric}_{unit}']} "
                         f"{unit.replace('_', ' ')}, {_turns(f[f'{metric}_turns'])})")
    if not lines:
        lines.append("word/character error rate: no turn with a reference text was spoken")
    if f["unscored"]:
        lines.append(f"not scored (no reference text; give one with --reference PATH=TEXT): "
                     f"{', '.join(f['unscored'])}")
    return lines


def _turns(n: int) -> str:
    return f"{n} turn" if n == 1 else f"{n} turns"
