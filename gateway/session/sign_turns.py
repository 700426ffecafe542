"""What the sign stream's events mean for a session: captions to show, and turns to answer.

Pure; the machine emits the captions and answers the turns in the order given here.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.events import Caption
from modalities.sign.events import (
    LetterRecognised,
    ReadbackResolved,
    SignEvent,
    SignTurnReady,
    WordRecognised,
)

SignTurn = tuple[str, float]  # (text, confidence) of a signed turn to answer


def read_sign(events: Iterable[SignEvent]) -> list[Caption | SignTurn]:
    out: list[Caption | SignTurn] = []
    for event in events:
        if isinstance(event, LetterRecognised):
            out.append(Caption(event.letter, "sign-letter", {"confidence": event.confidence}))
        elif isinstance(event, WordRecognised):
            out.append(Caption(event.word, "sign-word", {"confidence": event.confidence}))
        elif isinstance(event, SignTurnReady):
            if event.needs_readback:  # unsure: the kiosk reads it back before answering
                out.append(Caption(event.readback_prompt, "sign-readback",
                                   {"text": event.text, "confidence": event.confidence}))
            else:
                out.append((event.text, event.confidence))
        elif isinstance(event, ReadbackResolved):
            out.append(Caption(event.text, "sign-readback-answer", {"confirmed": event.confirmed}))
            if event.confirmed:
                out.append((event.text, 1.0))
    return out
