"""Scripted multi-turn dialogues through the core, scored per backend (`gateway eval dialogs`).

Measures task success (every expectation of every turn met), the grounded-answer rate (every
number in an answer clause appears in the passages it cites), correct handoffs and step-ups
(expected ones made with the right reason, none made unexpectedly) and PII leaks: the personal
data in the scripts searched for in what reached the LLM, the store, the logs and the events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.core.api import CoreEvent, Handoff, ReplyClause, StateUpdate, TextTurn, VerificationRequired
from gateway.core.build import Core
from gateway.core.policies.pii import find_pii
from gateway.errors import GatewayError
from models.base import ChatMessage, LanguageModel

MAX_DIALOG_BYTES = 512 * 1024
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class DialogError(GatewayError):
    code = "dialog-bad-script"


@dataclass(frozen=True)
class Turn:
    say: str
    modality: str
    expect: Mapping[str, Any]


@dataclass(frozen=True)
class Dialog:
    id: str
    language: str
    turns: tuple[Turn, ...]


def load_dialogs(folder: Path) -> list[Dialog]:
    import yaml

    dialogs: list[Dialog] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.stat().st_size > MAX_DIALOG_BYTES:
            raise DialogError(f"{path}: larger than {MAX_DIALOG_BYTES} bytes")
        data = yaml.safe_load(path.read_text("utf-8"))
        if not isinstance(data, list):
            raise DialogError(f"{path}: expected a list of dialogues")
        for raw in data:
            try:
                turns = tuple(
                    Turn(str(t["say"]), str(t.get("modality", "text")), dict(t.get("expect") or {}))
                    for t in raw["turns"]
                )
                dialogs.append(Dialog(str(raw["id"]), str(raw["language"]), turns))
            except (KeyError, TypeError) as exc:
                raise DialogError(f"{path}: malformed dialogue {raw!r:.80}: {exc!r}") from None
    if len({d.id for d in dialogs}) != len(dialogs):
        raise DialogError("dialogue ids must be unique")
    return dialogs


class RecordingModel:
    """Wraps a LanguageModel and keeps every message it was sent (scanned for PII)."""

    def __init__(self, model: LanguageModel) -> None:
        self.inner = model
        self.name = model.name
        self.sent: list[str] = []

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        self.sent.extend(m.content for m in messages)
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)

    def close(self) -> None:
        self.inner.close()


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Score:
    dialogs: int = 0
    succeeded: int = 0
    answers: int = 0
    grounded: int = 0
    handoffs_expected: int = 0
    handoffs_correct: int = 0
    handoffs_unexpected: int = 0
    stepups_expected: int = 0
    stepups_correct: int = 0
    stepups_unexpected: int = 0
    pii_values: int = 0
    pii_leaks: int = 0
    llm_answers: int = 0  # answers the LLM phrased (not the grounded fallback)
    turns: int = 0
    turns_ok: int = 0  # turns with every expectation met
    ood_turns: int = 0  # turns marked `ood` (out of domain) or `chat` (not a question for the KB)
    ood_confident_wrong: int = 0  # ... answered from the knowledge base anyway
    emergencies_expected: int = 0
    emergencies_caught: int = 0
    false_emergencies: int = 0  # emergency handoffs on turns that are not emergencies
    failures: list[str] = field(default_factory=list)


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text.replace(",", "")))


def _grounded(clauses: list[ReplyClause], core: Core) -> bool:
    index = core.services.index
    for clause in clauses:
        cited = " ".join(p.text for s in clause.sources if (p := index.get(s)) is not None)
        if not cited or not _numbers(clause.text) <= _numbers(cited):
            return False
    return True


def _contains(text: str, wanted: Sequence[str]) -> list[str]:
    return [w for w in wanted if not any(alt in text for alt in str(w).split("|"))]


def _check(turn: Turn, events: list[CoreEvent], core: Core, score: Score, where: str) -> list[str]:
    expect, problems = turn.expect, []
    clauses = [e for e in events if isinstance(e, ReplyClause)]
    text = " ".join(c.text for c in clauses)
    sourced = [c for c in clauses if c.sources]
    handoffs = [e for e in events if isinstance(e, Handoff)]
    stepups = [e for e in events if isinstance(e, VerificationRequired)]
    states = [e for e in events if isinstance(e, StateUpdate)]
    if sourced:
        score.answers += 1
        grounded = _grounded(sourced, core)
        score.grounded += grounded
        if not grounded:
            problems.append(f"ungrounded answer {' '.join(c.text for c in sourced)[:90]!r}")
    if "intent" in expect and (not states or states[-1].intent != expect["intent"]):
        problems.append(f"intent {states[-1].intent if states else None} != {expect['intent']}")
    if expect.get("answer") and not sourced:
        problems.append("no grounded answer")
    if sources := expect.get("sources"):
        cited = " ".join(s for c in sourced for s in c.sources)
        if not any(alt in cited for s in sources for alt in str(s).split("|")):
            problems.append(f"sources {cited!r} lack {sources}")
    if missing := _contains(text, expect.get("contains", [])):
        problems.append(f"reply {text[:90]!r} lacks {missing}")
    if expect.get("no_answer") and (sourced or ("person" not in text and "人工" not in text)):
        problems.append("expected 'no answer, offer a person'")
    if expect.get("ood") or expect.get("chat"):
        score.ood_turns += 1
        if sourced:  # a policy quoted with confidence to a question it does not answer
            score.ood_confident_wrong += 1
            cited = ' '.join(s for c in sourced for s in c.sources)[:60]
            problems.append(f"confident answer {cited!r} out of domain")
    if expect.get("chat") and (handoffs or stepups):
        problems.append("chit-chat got a handoff or step-up")
    urgent = [h for h in handoffs if h.reason == "emergency"]
    if expect.get("handoff") == "emergency":
        score.emergencies_expected += 1
        score.emergencies_caught += bool(urgent)
    elif urgent:
        score.false_emergencies += 1
    if expect.get("silent") and events:
        problems.append("expected silence while an agent owns the session")
    if not expect.get("silent") and not clauses:
        problems.append("no reply at all")
    elif clauses and (not clauses[-1].final or sum(c.final for c in clauses) != 1):
        problems.append("exactly the last clause must be final")
    if "handoff" in expect:
        score.handoffs_expected += 1
        ok = any(
            h.reason == expect["handoff"] and h.urgent == (expect["handoff"] == "emergency") for h in handoffs
        )
        score.handoffs_correct += ok
        if not ok:
            problems.append(f"handoff {[h.reason for h in handoffs]} != {expect['handoff']}")
    elif handoffs:
        score.handoffs_unexpected += 1
        problems.append(f"unexpected handoff {handoffs[0].reason}")
    if expect.get("verify"):
        score.stepups_expected += 1
        score.stepups_correct += bool(stepups)
        if not stepups:
            problems.append("no step-up verification")
    elif stepups:
        score.stepups_unexpected += 1
        problems.append("unexpected step-up")
    score.turns += 1
    score.turns_ok += not problems
    return [f"{where}: {p}" for p in problems]


async def run_dialogs(core: Core, dialogs: Sequence[Dialog], recorder: RecordingModel | None = None) -> Score:
    """Run every dialogue on a fresh conversation of `core`; PII scanned across the whole run."""
    score = Score()
    capture = LogCapture()
    logger = logging.getLogger("gateway")
    previous = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    wire: list[str] = []
    pii: set[str] = set()
    try:
        for n, dialog in enumerate(dialogs):
            sid = f"eval-{n}-{dialog.id}"
            conv = core.open_conversation(session_id=sid, channel="eval", language=dialog.language, tenant="")
            problems: list[str] = []
            for i, turn in enumerate(dialog.turns, start=1):
                if turn.say == "@claim":
                    core.agents.claim("eval-agent")
                    continue
                code = core.services.outbox.codes.get(sid, "")
                wrong = str((int(code or "0") + 1) % 1_000_000).zfill(6)
                said = turn.say.replace("{otp}", code).replace("{wrong_otp}", wrong)
                pii.update(m.value for m in find_pii(said))
                events = [e async for e in conv.respond(TextTurn(said, dialog.language, turn.modality))]  # type: ignore[arg-type]
                wire.extend(repr(e.to_wire()) for e in events)
                problems += _check(turn, events, core, score, f"{dialog.id}#{i}")
            await conv.aclose()
            score.dialogs += 1
            score.succeeded += not problems
            score.llm_answers += sum(b not in ("grounded", "none") for b in conv.backend_used)
            score.failures += problems
    finally:
        logger.removeHandler(capture)
        logger.setLevel(previous)
    places = {
        "llm": "\n".join(recorder.sent) if recorder else "",
        "store": core.services.records.dump_text(),
        "logs": "\n".join(capture.lines),
        "events": "\n".join(wire),
    }
    score.pii_values = len(pii)
    for value in pii:
        digits = re.sub(r"\D", "", value)
        for place, text in places.items():
            if value in text or (len(digits) >= 11 and digits in re.sub(r"\D", "", text)):
                score.pii_leaks += 1
                score.failures.append(f"PII leak: a {len(value)}-char value reached {place}")
    return score
