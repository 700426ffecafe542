"""The dialog state of one conversation: pure data and transitions, no I/O.

A sliding window of recent turns stays verbatim; turns that fall out are folded into a running
summary (one line each, capped), so a long call fits a small model's context. Slots carry across
turns and modalities; some are read back for confirmation.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from gateway.core.dialog.slots import CONFIRMED_SLOTS

MAX_SUMMARY_LINES = 12
MAX_TRANSCRIPT = 200  # turns kept for the handoff package

_YES = re.compile(
    r"^\s*(yes|yeah|yep|correct|right|that's right|sure|ok(ay)?|是|是的|对|对的|没错|嗯|好的|正确)\b", re.I)
_NO = re.compile(r"^\s*(no|nope|wrong|not quite|incorrect|不是|不对|错了|不)\b", re.I)


_ASKS = re.compile(r"\?|？|\b(how|what|when|where|why|which|who|can|could|do|does|is|are|will|would)\b"
                   r"|吗|呢|怎么|什么|多少|多久|哪|几|谁|能不能|可不可以|是不是")


def yes_no(text: str) -> bool | None:
    """An answer to a yes/no question; None when the turn goes on to ask something of its own
    ("ok, and how do I start the return?" is a question, not a yes)."""
    m = _NO.search(text) or _YES.search(text)
    if m is None:
        return None
    rest = text[m.end():]
    if _ASKS.search(rest.lower()) and len(rest.strip(" ,.!，。！")) >= 4:
        return None
    return m.re is _YES


@dataclass(frozen=True)
class Line:
    role: str  # "caller" | "bot" | "agent"
    text: str  # masked
    modality: str = "text"
    intent: str = ""


@dataclass
class DialogState:
    window_turns: int = 6
    intent: str = "other"
    slots: dict[str, str] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    pending_confirm: str | None = None
    summary: list[str] = field(default_factory=list)
    window: deque[Line] = field(default_factory=deque)
    transcript: deque[Line] = field(default_factory=lambda: deque(maxlen=MAX_TRANSCRIPT))
    sentiment: list[float] = field(default_factory=list)
    last_question: str = ""  # the caller's last question, for follow-ups and screenshots
    topic: str = ""  # title of the passage the last answer came from ("Warranty period")

    def add(self, line: Line) -> None:
        self.transcript.append(line)
        self.window.append(line)
        while len(self.window) > self.window_turns * 2:  # a turn is a caller line plus a reply
            old = self.window.popleft()
            self.summary.append(f"{old.role}{f' ({old.intent})' if old.intent else ''}: {old.text[:120]}")
            del self.summary[:-MAX_SUMMARY_LINES]

    def fill(self, slots: dict[str, str]) -> str | None:
        """Merge new slot values; returns a slot that now needs confirming, if any."""
        ask = None
        for name, value in slots.items():
            if self.slots.get(name) != value:
                self.slots[name] = value
                self.confirmed.discard(name)
                if name in CONFIRMED_SLOTS and ask is None:
                    ask = name
        return ask

    def confirm(self, answer: bool) -> None:
        if self.pending_confirm is None:
            return
        if answer:
            self.confirmed.add(self.pending_confirm)
        else:
            self.slots.pop(self.pending_confirm, None)
        self.pending_confirm = None

    def visible_slots(self) -> dict[str, str]:
        return {k: (v if k in self.confirmed or k not in CONFIRMED_SLOTS else f"{v} (unconfirmed)")
                for k, v in self.slots.items()}

    def package(self, reason: str) -> dict[str, object]:
        """The context package a person receives at handoff (everything already masked)."""
        return {
            "reason": reason,
            "intent": self.intent,
            "summary": " | ".join(self.summary) or self.brief(),
            "slots": self.visible_slots(),
            "transcript": [{"role": ln.role, "text": ln.text, "modality": ln.modality}
                           for ln in self.transcript],
            "sentiment_trend": [round(s, 2) for s in self.sentiment[-10:]],
        }

    def brief(self) -> str:
        caller = [ln.text for ln in self.transcript if ln.role == "caller"]
        return f"{len(caller)} caller turns; intent {self.intent}; last: {caller[-1][:120] if caller else ''}"
