"""A scripted day of calls written through the real stores (TranscriptStore, CoreRecords), with
the figures the report must find kept as the script goes."""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gateway.core.records import CoreRecords
from gateway.store.transcripts import TranscriptStore, TurnRecord

# Deliberately unanswerable: nothing in samples/kb says anything about these.
GIFT_WRAP = ["Do you offer gift wrapping?", "Can you gift wrap my order?", "Is gift wrapping available?",
             "Can I get the present wrapped as a gift?", "Do you do gift wrap for birthdays?"]
PICKUP = ["Can I pick up my order in a store?", "Is there a store where I can collect my order?",
          "Can I collect the parcel in person at your shop?",
          "Can I collect my order from one of your stores?"]
ASSEMBLY = ["Do you assemble the furniture for me?", "Can you assemble my wardrobe for me?",
            "Is there a furniture assembly service?", "Will you put the bed frame together for me?"]
# Answered questions (some answers get a "no"): scattered topics, each far smaller than a theme.
ANSWERED = ["How long do I have to return an item?", "How much is express shipping?",
            "How long is the warranty on a sofa?", "Which payment methods do you accept?",
            "When will I get my refund?", "How do I change my password?"]
HANDOFF_REASONS = ["caller-request", "frustration", "action-failed", "emergency"]
ACTIONS = {"order_status": ["ok"] * 6 + ["timeout", "http-5xx", "not-found"],
           "return_request": ["ok"] * 4 + ["bad-json"]}


@dataclass
class Expected:
    calls: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    yes: int = 0
    no: int = 0
    handoffs: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    themes: Counter[str] = field(default_factory=Counter)  # unanswerable theme -> questions asked
    no_by_question: Counter[str] = field(default_factory=Counter)
    actions: dict[str, Counter[str]] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)
    arms: Counter[str] = field(default_factory=Counter)  # sessions per arm of the experiment
    arm_yes: Counter[str] = field(default_factory=Counter)
    arm_answered: Counter[str] = field(default_factory=Counter)
    arm_handoffs: Counter[str] = field(default_factory=Counter)


async def write_day(store_path: Path, records_path: Path, *, calls: int = 360, old_calls: int = 40,
                    seed: int = 19) -> Expected:
    rng = random.Random(seed)
    store = TranscriptStore(store_path)
    await store.start()
    records = CoreRecords(str(records_path))
    expected = Expected()
    themes = {"gift-wrap": GIFT_WRAP, "pickup": PICKUP, "assembly": ASSEMBLY}
    weights = {"gift-wrap": 0.16, "pickup": 0.12, "assembly": 0.09}
    try:
        for i in range(calls + old_calls):
            old = i >= calls  # written, then moved ten days back: outside --since 7d
            sid = f"{'old' if old else 'day'}-{i:04d}"
            channel = "phone" if i % 3 == 0 else "web"
            await store.session_started(sid, "default", channel, "en")
            draw = rng.random()
            theme = next((t for t, w in _cumulative(weights) if draw < w), None)
            question = rng.choice(themes[theme]) if theme else rng.choice(ANSWERED)
            await store.turn(TurnRecord(sid, 1, "caller", "text", question, "en", {}, time.time()))
            arm = "a" if i % 2 == 0 else "b"
            records.record(sid, 1, "experiment", {"name": "offers-test", "variant": arm}, tenant="default")
            records.record(sid, 1, "turn", {"text": question, "language": "en", "modality": "text"},
                           tenant="default")
            timings = {"asr": round(rng.uniform(80, 400), 1),
                       "core_first": round(rng.lognormvariate(2.5, 0.6), 1),
                       "tts_first": round(rng.uniform(60, 250), 1),
                       "reply_latency": round(rng.uniform(300, 1400), 1)}
            if theme:
                records.record(sid, 1, "no-answer", {"intent": "other"}, tenant="default")
            else:
                records.record(sid, 1, "answer", {"sources": ["en/faq.yaml#x"], "backend": "grounded"},
                               tenant="default")
                helpful = rng.random() < (0.92 if arm == "a" else 0.7)  # arm a resolves more
                records.feedback(sid, 1, question, ("en/faq.yaml#x",), helpful, "en", tenant="default")
            await store.turn(TurnRecord(sid, 1, "bot", "speech", "reply", "en", timings, time.time()))
            action = None
            if rng.random() < 0.25:
                action = rng.choice(sorted(ACTIONS))
                outcome = rng.choice(ACTIONS[action])
                records.record(sid, 2, "action", {"action": action, "integration": "shop", "outcome": outcome,
                                                  "status": 200, "latency_ms": round(rng.uniform(5, 900), 1),
                                                  "attempts": 1}, tenant="default")
            reason = rng.choice(HANDOFF_REASONS) if rng.random() < 0.15 else None
            if reason:
                await store.turn(TurnRecord(sid, 2, "system", "text", f"handoff: {reason}", "en", {},
                                            time.time()))
            await store.session_ended(sid, "client-end")
            if old:
                continue
            expected.calls += 1
            expected.arms[arm] += 1
            if not theme:
                expected.arm_answered[arm] += 1
                expected.arm_yes[arm] += helpful
            if reason:
                expected.arm_handoffs[arm] += 1
            expected.channels[channel] += 1
            if theme:
                expected.unanswered += 1
                expected.themes[theme] += 1
            elif helpful:
                expected.yes += 1
            else:
                expected.no += 1
                expected.no_by_question[question] += 1
            if action:
                expected.actions.setdefault(action, Counter())[outcome] += 1
            if reason:
                expected.handoffs[reason] += 1
            for stage, ms in timings.items():
                expected.stages.setdefault(stage, []).append(ms)
        await store.flush()
    finally:
        await store.aclose()
        records.close()
    back = 10 * 86400
    with sqlite3.connect(store_path) as db:
        db.execute("UPDATE sessions SET started_at = started_at - ? WHERE id LIKE 'old-%'", (back,))
    with sqlite3.connect(records_path) as db:
        for table in ("core_events", "feedback"):
            db.execute(f"UPDATE {table} SET at = at - ? WHERE session_id LIKE 'old-%'", (back,))
    return expected


def _cumulative(weights: dict[str, float]) -> list[tuple[str, float]]:
    total, out = 0.0, []
    for name, w in weights.items():
        total += w
        out.append((name, total))
    return out
