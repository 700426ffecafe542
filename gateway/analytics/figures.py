"""The report's figures from one window of stored calls (pure; no I/O)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from gateway.analytics.data import Window
from gateway.analytics.gaps import Gap
from gateway.core.dialog.intents import classify

STAGES = ("asr", "screen", "core_first", "tts_first", "reply_latency")
FAILED = ("http-4xx", "http-5xx", "timeout", "unreachable", "bad-json", "bad-response", "circuit-open")


@dataclass
class Latency:
    count: int
    p50: float
    p90: float
    p95: float
    max: float
    values: list[float] = field(repr=False, default_factory=list)


@dataclass
class ActionFigures:
    calls: int = 0
    ok: int = 0
    failed: int = 0
    not_found: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def failure_rate(self) -> float:
        return self.failed / self.calls if self.calls else 0.0


@dataclass
class Report:
    since: float
    until: float
    calls: int
    channels: Counter[str]
    caller_turns: int
    feedback_yes: int
    feedback_no: int
    handoffs: Counter[str]
    calls_handed_off: int
    intents: Counter[str]
    actions: dict[str, ActionFigures]
    latency: dict[str, Latency]
    unanswered: int
    gaps: list[Gap] = field(default_factory=list)

    @property
    def helpful_rate(self) -> float:
        answered = self.feedback_yes + self.feedback_no
        return self.feedback_yes / answered if answered else 0.0


def latency(values: list[float]) -> Latency:
    a = np.asarray(values, dtype=np.float64)
    return Latency(len(values), float(np.percentile(a, 50)), float(np.percentile(a, 90)),
                   float(np.percentile(a, 95)), float(a.max()), list(values))


def gap_questions(window: Window) -> list[tuple[str, bool]]:
    """(question, unanswered) for every no-answer turn and every "no" to the feedback question."""
    said = {(e.session_id, e.turn): str(e.detail.get("text", "")) for e in window.events if e.kind == "turn"}
    out = [(said[(e.session_id, e.turn)], True) for e in window.events
           if e.kind == "no-answer" and said.get((e.session_id, e.turn))]
    out.extend((f.question, False) for f in window.feedback if not f.helpful and f.question)
    return out


def compute(window: Window) -> Report:
    """Every figure except the gap clusters (gaps.cluster embeds, so the caller runs it in batch)."""
    sessions = window.sessions or {e.session_id: {} for e in window.events}  # records only: their sessions
    handoffs: Counter[str] = Counter()
    handed_off: set[str] = set()
    stage_values: dict[str, list[float]] = defaultdict(list)
    for turn in window.turns:
        if turn.speaker == "system" and turn.text.startswith("handoff: "):
            handoffs[turn.text.removeprefix("handoff: ").strip()] += 1
            handed_off.add(turn.session_id)
        for stage, ms in turn.timings.items():
            if isinstance(ms, int | float) and ms >= 0:
                stage_values[stage].append(float(ms))
    caller = [e for e in window.events if e.kind == "turn"]
    intents = Counter(classify(str(e.detail.get("text", ""))) for e in caller)
    actions: dict[str, ActionFigures] = defaultdict(ActionFigures)
    for e in window.events:
        if e.kind != "action":
            continue
        figures = actions[str(e.detail.get("action", "?"))]
        outcome = str(e.detail.get("outcome", "?"))
        figures.calls += 1
        figures.outcomes[outcome] += 1
        figures.ok += outcome == "ok"
        figures.not_found += outcome == "not-found"
        figures.failed += outcome in FAILED
        if isinstance(e.detail.get("latency_ms"), int | float):
            figures.latencies.append(float(e.detail["latency_ms"]))
    order = [s for s in STAGES if s in stage_values] + sorted(set(stage_values) - set(STAGES))
    return Report(
        since=window.since, until=window.until, calls=len(sessions),
        channels=Counter(str(s.get("channel", "?")) for s in sessions.values()),
        caller_turns=len(caller),
        feedback_yes=sum(f.helpful for f in window.feedback),
        feedback_no=sum(not f.helpful for f in window.feedback),
        handoffs=handoffs, calls_handed_off=len(handed_off), intents=intents,
        actions=dict(sorted(actions.items())),
        latency={s: latency(stage_values[s]) for s in order},
        unanswered=sum(e.kind == "no-answer" for e in window.events))
