"""ASR runaway repetition: a recogniser that loops emits one token hundreds of times ("... 1111 4 4 4
4 4 ..."). That tail is not speech; stored as is it also hides a card number from PII masking (the
digits run on past any card length). `cut_runaway` keeps one copy of the repeated unit, drops the
rest and leaves a visible flag in the text. Pure; applied where a transcript becomes a turn.
"""

from __future__ import annotations

import re

FLAG = "[repetition cut]"
MIN_REPEATS = 20  # above any real digit run: a 19-digit card of one repeated digit stays whole
MIN_CHARS = 20
MAX_UNIT_CHARS = 12
# A unit of 1..12 characters starting with a non-space, then itself again and again, separated by
# nothing or by spaces/punctuation. The backreference keeps it to one unit per run.
_RUNAWAY = re.compile(rf"(\S.{{0,{MAX_UNIT_CHARS - 1}}}?)(?:[\s,.;，。、]*\1){{{MIN_REPEATS - 1},}}",
                      re.DOTALL)


def cut_runaway(text: str) -> str:
    """The text with every runaway repetition cut to one copy plus FLAG (unchanged when none)."""
    if len(text) < MIN_CHARS:
        return text

    def cut(match: re.Match[str]) -> str:
        if len(match.group()) < MIN_CHARS:
            return match.group()
        return f"{match.group(1)} {FLAG}"

    return _RUNAWAY.sub(cut, text)


def was_cut(text: str) -> bool:
    return FLAG in text
