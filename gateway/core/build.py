"""Assemble the conversation core from settings: knowledge index, stores, policies, LLM backend.

build_core() is blocking (it parses, embeds and indexes documents that changed since the last
start, about 1.5 s for the bundled knowledge base, mostly loading the embedding model, and loads
the embedded LLM when chosen); call it at start-up or from a thread.
"""

from __future__ import annotations

from pathlib import Path

from gateway.core.agents import AgentQueue
from gateway.core.api import Conversation
from gateway.core.conversation import CoreConversation
from gateway.core.kb.ingest import ingest, load_index
from gateway.core.kb.store import KnowledgeStore
from gateway.core.phrasing import LlmPhraser
from gateway.core.policies.verify import Verifier
from gateway.core.records import CoreRecords
from gateway.core.services import CoreServices
from gateway.core.settings import CoreSettings
from models.base import Embedder, LanguageModel


class Core:
    """The ConversationCore: one per process, shared by every session."""

    def __init__(self, services: CoreServices, store: KnowledgeStore, embedder: Embedder | None,
                 model: LanguageModel | None) -> None:
        self.services = services
        self.model = model
        self._store = store
        self._embedder = embedder

    @property
    def agents(self) -> AgentQueue:
        return self.services.agents

    def open(self, *, session_id: str, channel: str, language: str, tenant: str) -> Conversation:
        return self.open_conversation(session_id=session_id, channel=channel, language=language,
                                      tenant=tenant)

    def open_conversation(self, *, session_id: str, channel: str, language: str, tenant: str
                          ) -> CoreConversation:
        return CoreConversation(self.services, session_id=session_id, channel=channel,
                                language=language, tenant=tenant)

    async def aclose(self) -> None:
        self._store.close()
        self.services.records.close()
        for engine in (self._embedder, self.model):
            if engine is not None:
                engine.close()


def make_embedder(settings: CoreSettings) -> Embedder | None:
    if not settings.embeddings:
        return None
    from models.embed_use import UseEmbedder

    return UseEmbedder()


def make_model(settings: CoreSettings) -> LanguageModel | None:
    if settings.backend == "llama":
        from models.llm_llamacpp import LlamaCppModel

        model = LlamaCppModel(threads=settings.llm_threads)
        model.load()  # fail at start (missing weights), not in the middle of a call
        return model
    if settings.backend == "openai":
        from models.llm_openai import OpenAICompatibleModel

        return OpenAICompatibleModel(url=settings.openai_url, model=settings.openai_model,
                                     api_key=settings.openai_api_key,
                                     read_timeout=settings.llm_timeout_s)
    return None


def build_core(settings: CoreSettings, *, model: LanguageModel | None = None,
               verifier: Verifier | None = None) -> Core:
    """model/verifier override the ones settings would make (tests, evaluation, custom back ends)."""
    settings.validate()
    embedder = make_embedder(settings)
    store = KnowledgeStore(settings.db_path)
    ingest(Path(settings.kb_folder()), store, embedder)
    model = model if model is not None else make_model(settings)
    phraser = None if model is None else LlmPhraser(
        model, first_token_s=settings.llm_first_token_s, timeout_s=settings.llm_timeout_s,
        max_tokens=settings.llm_max_tokens)
    services = CoreServices(settings=settings, index=load_index(store, embedder),
                            records=CoreRecords(settings.records_path),
                            agents=AgentQueue(settings.agent_queue_size), verifier=verifier, phraser=phraser)
    return Core(services, store, embedder, model)
