"""The LLM phraser's guard rails with a scripted model (no real LLM)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from gateway.core.api import ReplyClause
from gateway.core.kb.documents import Passage
from gateway.core.kb.index import Hit
from gateway.core.phrasing import LlmPhraser, PhraseOutcome, clause_is_grounded
from gateway.errors import BackendError
from models.base import ChatMessage

HITS = [
    Hit(
        Passage(
            "en/r.md#w",
            "en/r.md",
            "Return window",
            "You have 30 days from delivery to return an item. Refunds take 5 to 7 business days.",
            "en",
        ),
        0.9,
        0.9,
        0.0,
    )
]


class Scripted:
    name = "scripted"

    def __init__(self, pieces: Sequence[str], fail_after: int | None = None, delay: float = 0.0) -> None:
        self.pieces, self.fail_after, self.delay = pieces, fail_after, delay

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        for i, piece in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise BackendError("boom", code="llm-failed")
            time.sleep(self.delay)
            yield piece

    def close(self) -> None:
        pass


async def _run(model: Scripted, budget: float = 2.0) -> tuple[list[ReplyClause], PhraseOutcome]:
    phraser = LlmPhraser(model, first_token_s=min(1.0, budget), timeout_s=budget, max_tokens=64)
    outcomes: list[PhraseOutcome] = []
    clauses = [c async for c in phraser.phrase("how long to return?", HITS, "en", [], outcomes)]
    return clauses, outcomes[0]


def test_grounding_check() -> None:
    assert clause_is_grounded("You have 30 days.", HITS, "en")
    assert not clause_is_grounded("You have 60 days.", HITS, "en")
    assert not clause_is_grounded("您有30天。", HITS, "en")


async def test_clean_stream() -> None:
    clauses, outcome = await _run(
        Scripted(["You have ", "30 days", " to return it. ", "Refunds take ", "5 to 7 business days."])
    )
    assert [c.text for c in clauses] == [
        "You have 30 days to return it.",
        "Refunds take 5 to 7 business days.",
    ]
    assert [c.final for c in clauses] == [False, True] and outcome.backend == "scripted"


async def test_invented_number_falls_back() -> None:
    clauses, outcome = await _run(Scripted(["You have 30 days. ", "Refunds take 2 days. ", "Bye."]))
    assert outcome.fallback == "ungrounded-clause"
    assert "2 days" not in " ".join(c.text for c in clauses)
    assert clauses[-1].final and sum(c.final for c in clauses) == 1
    assert any("5 to 7" in c.text for c in clauses)  # the grounded answer completed the reply


async def test_failure_mid_stream_falls_back() -> None:
    clauses, outcome = await _run(Scripted(["You have 30 days. ", "Refunds ", "take"], fail_after=2))
    assert outcome.fallback == "llm-failed" and clauses[-1].final
    assert clauses[0].text == "You have 30 days."


async def test_slow_model_times_out() -> None:
    start = time.monotonic()
    clauses, outcome = await _run(Scripted(["You ", "have ", "30 ", "days."], delay=0.6), budget=0.3)
    assert outcome.fallback == "first-token-timeout" and time.monotonic() - start < 0.9
    assert clauses[-1].final and "30 days" in " ".join(c.text for c in clauses)
