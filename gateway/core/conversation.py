"""One session's conversation with the core: policies first, then retrieval, then phrasing.

respond() is an async generator that never blocks the loop: retrieval and model calls run in
worker threads. The order of a turn is fixed and deterministic up to the phrasing step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.core.api import CoreEvent, ReplyClause, TextTurn
from gateway.core.grounded import select_sentences
from gateway.core.kb.index import Hit
from gateway.core.messages import say
from gateway.core.services import CoreServices
from gateway.core.text import base_language, guess_language, split_clauses


class CoreConversation:
    def __init__(self, services: CoreServices, *, session_id: str, channel: str, language: str,
                 tenant: str) -> None:
        self.services = services
        self.session_id, self.channel, self.tenant = session_id, channel, tenant
        self.language = base_language(language) if language and language != "auto" else ""

    def _language_of(self, turn: TextTurn, text: str) -> str:
        if turn.language:
            return base_language(turn.language)
        return guess_language(text, default=self.language or "en")

    async def respond(self, turn: TextTurn) -> AsyncIterator[CoreEvent]:
        settings = self.services.settings
        text = turn.text.strip()[: settings.max_turn_chars]
        language = self._language_of(turn, text)
        if not text:
            yield ReplyClause(say("empty", language), language, final=True)
            return
        hits = await asyncio.to_thread(self.services.index.search, text, language, settings.top_k)
        hits = [h for h in hits if h.score >= settings.min_score]
        if not hits:
            yield ReplyClause(say("no-answer", language), language, final=True)
            return
        async for clause in self._grounded(text, hits, language):
            yield clause

    async def _grounded(self, text: str, hits: list[Hit], language: str) -> AsyncIterator[ReplyClause]:
        pieces = [(clause, s.source) for s in select_sentences(text, hits)
                  for clause in split_clauses(s.text)]
        for i, (clause, source) in enumerate(pieces):
            yield ReplyClause(clause, language, (source,), final=i == len(pieces) - 1)

    async def aclose(self) -> None:
        return None
