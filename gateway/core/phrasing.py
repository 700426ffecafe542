"""Reply phrasing: quote the knowledge base (grounded) or let an LLM phrase it, with guard rails.

The LLM runs in a worker thread; its pieces cross to the loop through a bounded queue. It must
start within `first_token_s` and finish within `timeout_s`, every clause must keep to the
caller's language and use no number the passages do not contain; otherwise the rest of the reply
comes from the grounded responder. The caller always gets a complete, final clause.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

from gateway.core.api import ReplyClause
from gateway.core.grounded import select_sentences
from gateway.core.kb.index import Hit
from gateway.core.text import has_cjk, split_clauses
from gateway.errors import BackendError
from models.base import ChatMessage, LanguageModel

MAX_PIECES = 1024
_BOUNDARY = re.compile(r"[。！？；]\s*|[.!?;]\s+|，\s*|,\s+")  # "$5.99" and "5,000" stay whole
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
PASSAGE_CHARS = 400

# Short on purpose: on 2 CPU cores prompt processing dominates the time to the first token.
SYSTEM = (
    "You are a shop's customer-service assistant. Answer ONLY with facts from the passage; never add "
    "numbers or policies. Reply in {language_name}, in one or two short sentences."
)
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)"}


@dataclass(frozen=True)
class PhraseOutcome:
    backend: str  # which backend produced the reply: "grounded" | the LLM's name
    fallback: str = ""  # why the LLM was abandoned ("" when it was not)
    pieces: int = 0


def grounded_clauses(query: str, hits: Sequence[Hit], language: str) -> list[ReplyClause]:
    pieces = [(c, s.source) for s in select_sentences(query, hits) for c in split_clauses(s.text)]
    return [ReplyClause(c, language, (src,), final=i == len(pieces) - 1) for i, (c, src) in enumerate(pieces)]


def build_messages(query: str, hits: Sequence[Hit], language: str, summary: str,
                   recent: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    passages = "\n".join(f"- {h.passage.title}: {h.passage.text[:PASSAGE_CHARS]}" for h in hits[:1])
    system = SYSTEM.format(language_name=LANGUAGE_NAMES.get(language, language))
    system += f"\n\nPassage:\n{passages}"
    if summary:
        system += f"\n\nEarlier in this call: {summary[:300]}"
    messages = [ChatMessage("system", system)]
    for role, text in recent[-2:]:
        messages.append(ChatMessage("user" if role == "caller" else "assistant", text[:300]))
    messages.append(ChatMessage("user", query))
    return messages


def _clause_end(buffer: str) -> int | None:
    """Where the first speakable clause of the buffer ends: a sentence end, or a comma once the
    clause is long enough to be worth speaking on its own."""
    for m in _BOUNDARY.finditer(buffer):
        if m.group().strip() not in ",，" or m.start() > 40:
            return m.end()
    return None


def clause_is_grounded(clause: str, hits: Sequence[Hit], language: str) -> bool:
    """Same language as the caller, and every number in it appears in a retrieved passage."""
    if language == "zh" and not has_cjk(clause):
        return False
    if language == "en" and has_cjk(clause):
        return False
    known = set(_NUMBER.findall(" ".join(h.passage.text for h in hits).replace(",", "")))
    return all(n in known for n in _NUMBER.findall(clause.replace(",", "")))


async def _pieces_from_thread(produce: Callable[[], Iterator[str]], stop: threading.Event
                              ) -> AsyncGenerator[str | BaseException, None]:
    """Run a blocking generator in a thread; yield its pieces (or its exception) on the loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue(maxsize=64)

    def worker() -> None:
        def put(item: str | BaseException | None) -> None:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        try:
            for n, piece in enumerate(produce()):
                if stop.is_set() or n >= MAX_PIECES:
                    break
                put(piece)
            put(None)
        except BaseException as exc:  # the consumer decides; the thread must not die silently
            if not stop.is_set():
                put(exc)

    future = loop.run_in_executor(None, worker)
    try:
        while (item := await queue.get()) is not None:
            yield item
            if isinstance(item, BaseException):
                return
    finally:
        stop.set()
        while not queue.empty():  # unblock a worker waiting on a full queue
            queue.get_nowait()
        future.cancel()


class LlmPhraser:
    def __init__(self, model: LanguageModel, *, first_token_s: float, timeout_s: float, max_tokens: int,
                 temperature: float = 0.2) -> None:
        self.model = model
        self.first_token_s, self.timeout_s = first_token_s, timeout_s
        self.max_tokens, self.temperature = max_tokens, temperature

    async def phrase(self, query: str, hits: Sequence[Hit], language: str,
                     messages: Sequence[ChatMessage], outcomes: list[PhraseOutcome]
                     ) -> AsyncIterator[ReplyClause]:
        """Clauses of the reply; appends how it went to `outcomes` (per call: phrasers are shared)."""
        hits = hits[:1]  # what the prompt holds is all a clause may rest on (and what it cites)
        sources = tuple(h.passage.id for h in hits)
        start = time.monotonic()
        stop = threading.Event()
        stream = _pieces_from_thread(lambda: self.model.stream(
            messages, max_tokens=self.max_tokens, temperature=self.temperature), stop)
        held: ReplyClause | None = None
        emitted, buffer, pieces, why = 0, "", 0, ""
        try:
            while True:
                limit = self.first_token_s if pieces == 0 else self.timeout_s
                budget = limit - (time.monotonic() - start)
                try:
                    # Not wait_for: on 3.11 it may swallow a barge-in's cancel as a token arrives.
                    async with asyncio.timeout(max(budget, 0.001)):
                        item = await anext(stream)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    why = "first-token-timeout" if pieces == 0 else "turn-timeout"
                    break
                if isinstance(item, BaseException):
                    why = item.code if isinstance(item, BackendError) else f"error:{type(item).__name__}"
                    break
                pieces += 1
                buffer += item
                while (cut := _clause_end(buffer)) is not None:
                    clause, buffer = buffer[:cut].strip(), buffer[cut:]
                    if not clause:
                        continue
                    if not clause_is_grounded(clause, hits, language):
                        why = "ungrounded-clause"
                        break
                    if held is not None:
                        yield held
                        emitted += 1
                    held = ReplyClause(clause, language, sources)
                if why:
                    break
            if not why and buffer.strip():
                if clause_is_grounded(buffer.strip(), hits, language):
                    if held is not None:
                        yield held
                        emitted += 1
                    held = ReplyClause(buffer.strip(), language, sources)
                else:
                    why = "ungrounded-clause"
        finally:
            await stream.aclose()
        if not why and held is None:
            why = "empty-reply"
        outcomes.append(PhraseOutcome(self.model.name if not why else "grounded", why, pieces))
        if not why and held is not None:
            yield ReplyClause(held.text, language, held.sources, final=True)
            return
        if held is not None and emitted == 0 and why == "turn-timeout":
            yield ReplyClause(held.text, language, held.sources, final=True)  # a whole clause: enough
            return
        if held is not None:
            yield held
        for fallback in grounded_clauses(query, hits, language):
            yield fallback
