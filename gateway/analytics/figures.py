"""The report's figures from one window of stored calls (pure; no I/O)."""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class Comparison:
    """Two proportions (arm a, arm b) and a two-sided two-proportion z-test."""

    a_hits: int
    a_total: int
    b_hits: int
    b_total: int
    z: float
    p: float

    @property
    def a_rate(self) -> float:
        return self.a_hits / self.a_total if self.a_total else 0.0

    @property
    def b_rate(self) -> float:
        return self.b_hits / self.b_total if self.b_total else 0.0

    @property
    def significant(self) -> bool:
        """More than noise at the 5% level (and both arms big enough for the normal approximation)."""
        return self.p < 0.05 and min(self.a_total, self.b_total) >= 20


def compare(a_hits: int, a_total: int, b_hits: int, b_total: int) -> Comparison:
    if not a_total or not b_total:
        return Comparison(a_hits, a_total, b_hits, b_total, 0.0, 1.0)
    pooled = (a_hits + b_hits) / (a_total + b_total)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a_total + 1 / b_total))
    z = 0.0 if se == 0 else (a_hits / a_total - b_hits / b_total) / se
    return Comparison(a_hits, a_total, b_hits, b_total, z, math.erfc(abs(z) / math.sqrt(2)))


@dataclass
class Experiment:
    name: str
    sessions: Counter[str]  # arm -> sessions
    resolution: Comparison  # feedback "yes" among feedback answers
    handoffs: Comparison  # sessions handed to a person


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
    experiments: list[Experiment] = field(default_factory=list)
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
    experiments = _experiments(window, handed_off)
    return Report(
        since=window.since, until=window.until, calls=len(sessions),
        channels=Counter(str(s.get("channel", "?")) for s in sessions.values()),
        caller_turns=len(caller),
        feedback_yes=sum(f.helpful for f in window.feedback),
        feedback_no=sum(not f.helpful for f in window.feedback),
        handoffs=handoffs, calls_handed_off=len(handed_off), intents=intents,
        actions=dict(sorted(actions.items())),
        latency={s: latency(stage_values[s]) for s in order},
        unanswered=sum(e.kind == "no-answer" for e in window.events), experiments=experiments)


def _experiments(window: Window, handed_off: set[str]) -> list[Experiment]:
    arms: dict[str, dict[str, str]] = defaultdict(dict)  # experiment -> session -> arm
    for e in window.events:
        if e.kind == "experiment" and e.detail.get("variant") in ("a", "b"):
            arms[str(e.detail.get("name", "?"))].setdefault(e.session_id, str(e.detail["variant"]))
    out = []
    for name, by_session in sorted(arms.items()):
        yes: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for f in window.feedback:
            arm = by_session.get(f.session_id)
            if arm:
                answered[arm] += 1
                yes[arm] += f.helpful
        sessions = Counter(by_session.values())
        handed: Counter[str] = Counter(arm for sid, arm in by_session.items() if sid in handed_off)
        out.append(Experiment(name, sessions,
                              compare(yes["a"], answered["a"], yes["b"], answered["b"]),
                              compare(handed["a"], sessions["a"], handed["b"], sessions["b"])))
    return out
