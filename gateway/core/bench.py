"""`gateway bench core`: time to the first reply clause per backend, tokens/s of an LLM backend."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gateway.core.api import ReplyClause, TextTurn
from gateway.core.build import Core
from models.base import ChatMessage, LanguageModel

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How long do I have to return an item?", "en"),
    ("When will I get my refund?", "en"),
    ("Is shipping free?", "en"),
    ("How long is the warranty on headphones?", "en"),
    ("Which payment methods do you accept?", "en"),
    ("Can I pay in instalments?", "en"),
    ("I forgot my password, how do I reset it?", "en"),
    ("How long does express delivery take?", "en"),
    ("我想退货，需要多长时间？", "zh"),
    ("退款多久到账？", "zh"),
    ("包邮吗？运费多少？", "zh"),
    ("沙发保修多久？", "zh"),
    ("支持哪些支付方式？", "zh"),
    ("忘记密码了怎么办？", "zh"),
    ("快递包裹破损了怎么办？", "zh"),
    ("客服什么时候上班？", "zh"),
)


class TimingModel:
    """Wraps a LanguageModel; records per call the pieces produced and the generation time."""

    def __init__(self, model: LanguageModel) -> None:
        self.inner, self.name = model, model.name
        self.runs: list[tuple[int, float]] = []  # (pieces after the first, seconds after the first)
        self._lock = threading.Lock()

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        first = last = 0.0
        count = 0
        for piece in self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature):
            last = time.perf_counter()
            first = first or last
            count += 1
            yield piece
        if count > 1:
            with self._lock:
                self.runs.append((count - 1, last - first))

    def tokens_per_second(self) -> float:
        pieces = sum(n for n, _ in self.runs)
        seconds = sum(t for _, t in self.runs)
        return pieces / seconds if seconds > 0 else 0.0

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class BenchResult:
    backend: str
    first_clause_ms: tuple[float, ...]
    reply_ms: tuple[float, ...]
    llm_phrased: int  # replies the LLM phrased (the rest fell back to the grounded responder)
    emergency_ms: tuple[float, ...] = ()  # the emergency check alone (phrase floor + meaning), in-process
    # First clause when the turn's understanding was prepared in the caller's pause (prepare()
    # awaited before respond(): the turn ended on the words of the last pause), in-process
    prepared_first_ms: tuple[float, ...] = ()

    @staticmethod
    def _median(values: Sequence[float]) -> float:
        return statistics.median(values) if values else 0.0

    @staticmethod
    def _pct(values: Sequence[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

    @property
    def p50(self) -> float:
        return self._median(self.first_clause_ms)

    @property
    def p95(self) -> float:
        return self._pct(self.first_clause_ms, 0.95)

    @property
    def prepared_p50(self) -> float:
        return self._median(self.prepared_first_ms)

    @property
    def prepared_p95(self) -> float:
        return self._pct(self.prepared_first_ms, 0.95)

    @property
    def emergency_p50(self) -> float:
        return self._median(self.emergency_ms)

    @property
    def reply_p50(self) -> float:
        return self._median(self.reply_ms)


async def bench_core(
    core: Core, backend: str, rounds: int = 1, questions: Sequence[tuple[str, str]] = QUESTIONS
) -> BenchResult:
    """Each question on a fresh conversation (no feedback prompts); one warm-up question first."""
    first: list[float] = []
    whole: list[float] = []
    prepared: list[float] = []
    phrased = 0
    for n in range(rounds * len(questions) + 1):
        text, language = questions[(n - 1) % len(questions)] if n else questions[0]
        for ahead in (False, True):
            turn = TextTurn(text, language, "text")
            conv = core.open_conversation(session_id=f"bench-{n}", channel="bench", language=language,
                                          tenant="")
            if ahead:
                await conv.prepare(turn)
            start = time.perf_counter()
            first_at = 0.0
            async for event in conv.respond(turn):
                if isinstance(event, ReplyClause) and not first_at:
                    first_at = time.perf_counter()
            done = time.perf_counter()
            await conv.aclose()
            if n == 0:
                continue  # warm-up: model load, caches
            if ahead:
                prepared.append((first_at - start) * 1000.0)
                continue
            first.append((first_at - start) * 1000.0)
            whole.append((done - start) * 1000.0)
            phrased += sum(b not in ("grounded", "none") for b in conv.backend_used)
    # The emergency check alone, in-process: phrase floor + the classifier's read (one embedding).
    from gateway.core.policies.emergency import detect_emergency

    emergency: list[float] = []
    for text, language in questions:
        start = time.perf_counter()
        if detect_emergency(text) is None:
            core.services.understanding.read(text, language)
        emergency.append((time.perf_counter() - start) * 1000.0)
    return BenchResult(backend, tuple(first), tuple(whole), phrased, tuple(emergency), tuple(prepared))
