"""The contract between channels and the shared conversation core.

Every channel and modality ends as a TextTurn; the core answers with a stream of CoreEvents
(a closed set of frozen dataclasses). Sessions forward each event to the client with to_wire();
ReplyClause events are also spoken. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.turns import Modality, TextTurn  # noqa: F401 (the turn is a shared contract)


@dataclass(frozen=True)
class ReplyClause:
    """One clause of the reply, small enough for TTS to start on it."""

    text: str
    language: str
    sources: tuple[str, ...] = ()  # ids of the knowledge passages this clause rests on
    final: bool = False  # last clause of this reply

    def to_wire(self) -> dict[str, Any]:
        return {"type": "reply.text", "text": self.text, "language": self.language,
                "sources": list(self.sources), "final": self.final}


@dataclass(frozen=True)
class Handoff:
    """The session must go to a person (agent queue) or, when urgent, an emergency line."""

    reason: str  # "caller-request" | "emergency" | "frustration" | "no-answer" | "dtmf" ...
    urgent: bool
    package: Mapping[str, Any] = field(default_factory=dict)  # summary, slots, transcript, sentiment

    def to_wire(self) -> dict[str, Any]:
        return {"type": "handoff", "reason": self.reason, "urgent": self.urgent,
                "package": dict(self.package)}


@dataclass(frozen=True)
class StateUpdate:
    """Dialog state after a turn: intent and slots (PII already masked)."""

    intent: str
    slots: Mapping[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"type": "dialog.state", "intent": self.intent, "slots": dict(self.slots)}


@dataclass(frozen=True)
class VerificationRequired:
    """A high-risk request waits for step-up identity verification."""

    method: str  # "otp" | "knowledge"
    prompt: str

    def to_wire(self) -> dict[str, Any]:
        return {"type": "verify.required", "method": self.method, "prompt": self.prompt}


CoreEvent = ReplyClause | Handoff | StateUpdate | VerificationRequired


class Conversation(Protocol):
    """One session's conversation with the core (dialog state lives here)."""

    def respond(self, turn: TextTurn) -> AsyncIterator[CoreEvent]: ...

    async def prepare(self, turn: TextTurn) -> None:
        """The caller may have finished on these words: do the pure part of answering them now
        (no state changes, nothing recorded or said); respond() on the same words reuses it."""
        ...

    def prepared(self, turn: TextTurn) -> bool:
        """Whether prepare() had started on exactly this turn."""
        ...

    async def aclose(self) -> None: ...


class ConversationCore(Protocol):
    def open(self, *, session_id: str, channel: str, language: str, tenant: str) -> Conversation: ...

    async def aclose(self) -> None: ...
