"""Assemble the conversation core from settings: knowledge index, stores, policies, LLM backend.

build_core() is blocking (it parses, embeds and indexes documents that changed since the last
start, about 1.5 s for the bundled knowledge base, mostly loading the embedding model, and loads
the embedded LLM when chosen); call it at start-up or from a thread.

Tenancy: besides the shared knowledge base (core.kb_path), each folder under core.tenant_kb_root
is one tenant's own, with its own index. Every tenant gets its own CoreServices holding only its
index, and a conversation is handed that object at open: nothing it holds leads to another index.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.core.agents import AgentQueue
from gateway.core.api import Conversation
from gateway.core.conversation import CoreConversation
from gateway.core.kb.index import KnowledgeIndex
from gateway.core.kb.ingest import ingest, load_index
from gateway.core.kb.store import KnowledgeStore
from gateway.core.nlu.llm_pick import LlmPicker
from gateway.core.nlu.understand import (
    CatalogUnderstanding,
    Understanding,
    catalog_path_for,
    load_understanding,
)
from gateway.core.phrasing import LlmPhraser
from gateway.core.policies.verify import Verifier
from gateway.core.records import CoreRecords
from gateway.core.services import CoreServices
from gateway.core.settings import CoreSettings
from gateway.core.text import tokenize
from models.base import Embedder, LanguageModel

if TYPE_CHECKING:
    from gateway.core.actions import ActionService

log = logging.getLogger("gateway.core")


class Core:
    """The ConversationCore: one per process, shared by every session."""

    def __init__(self, services: CoreServices, stores: Sequence[KnowledgeStore], embedder: Embedder | None,
                 model: LanguageModel | None, *, tenants: Mapping[str, CoreServices] | None = None,
                 fallback: CoreServices | None = None) -> None:
        self.services = services  # with the shared knowledge base (CLI search, evaluation)
        self.picker_model: LanguageModel | None = None  # the LLM that classifies when unsure (its own client)
        self.model = model
        self._tenants = dict(tenants or {})  # tenant -> services with that tenant's own index
        self._fallback = services if fallback is None else fallback  # tenants without their own
        self._stores = tuple(stores)
        self._embedder = embedder

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants with a knowledge base of their own."""
        return tuple(sorted(self._tenants))

    def services_for(self, tenant: str) -> CoreServices:
        # An exact-name lookup in what was built at start: a session's tenant never becomes a path.
        return self._tenants.get(tenant, self._fallback)

    @property
    def agents(self) -> AgentQueue:
        return self.services.agents

    def warm(self) -> None:
        """Loads now (blocking) what the first caller would otherwise wait seconds for: the
        sentence encoder (an index and intent weights read from disk never touch it), the Chinese
        word segmenter and both sentiment engines (the first Mandarin turn took 2.1 s for them)."""
        if self._embedder is not None:
            self._embedder.embed(["hello"])
        tokenize("退货")
        services = (self.services, self._fallback, *self._tenants.values())
        for scorer in {id(s.sentiment): s.sentiment for s in services}.values():
            scorer.warm()

    def open(self, *, session_id: str, channel: str, language: str, tenant: str) -> Conversation:
        return self.open_conversation(session_id=session_id, channel=channel, language=language,
                                      tenant=tenant)

    def open_conversation(self, *, session_id: str, channel: str, language: str, tenant: str
                          ) -> CoreConversation:
        return CoreConversation(self.services_for(tenant), session_id=session_id, channel=channel,
                                language=language, tenant=tenant)

    async def aclose(self) -> None:
        for store in self._stores:
            store.close()
        self.services.records.close()
        every = {id(s.actions): s.actions for s in (self.services, self._fallback, *self._tenants.values())
                 if s.actions is not None}
        for actions in every.values():  # the shared one and each tenant's own
            await actions.aclose()
        for engine in (self._embedder, self.model, self.picker_model):
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
    embedder = make_embedder(settings)  # loaded once, shared by every tenant's index
    stores: list[KnowledgeStore] = []
    try:
        shared = _build_index(settings.kb_folder(), settings.db_path, embedder, stores)
        own = {tenant: _build_index(folder, settings.tenant_db_path(tenant), embedder, stores)
               for tenant, folder in settings.tenant_kb_folders().items()}
        # A malformed intent catalog stops the start here (CatalogError names the file and the entry).
        shared_catalog = catalog_path_for(settings.kb_folder(), settings)
        understanding = load_understanding(shared_catalog, embedder, Path(settings.intent_model_path))
        tenant_understanding = {
            tenant: understanding if (path := catalog_path_for(folder, settings)) == shared_catalog
            else load_understanding(path, embedder, settings.tenant_intent_model_path(tenant))
            for tenant, folder in settings.tenant_kb_folders().items()}
    except BaseException:
        for store in stores:  # a bad document in one tenant's folder fails the start cleanly
            store.close()
        raise
    for tenant, index in own.items():
        log.info("knowledge base of tenant %s: %d passages", tenant, len(index.passages))
    model = model if model is not None else make_model(settings)
    phraser = None if model is None else LlmPhraser(
        model, first_token_s=settings.llm_first_token_s, timeout_s=settings.llm_timeout_s,
        max_tokens=settings.llm_max_tokens)
    services = CoreServices(settings=settings, index=shared,
                            records=CoreRecords(settings.records_path),
                            agents=AgentQueue(settings.agent_queue_size), verifier=verifier, phraser=phraser,
                            actions=make_actions(settings),
                            understanding=understanding)
    # Records, agent queue, verifier and phraser stay shared (keyed by session); only the index differs.
    tenants = {tenant: dataclasses.replace(services, index=index, understanding=tenant_understanding[tenant])
               for tenant, index in own.items()}
    fallback = services if settings.tenant_kb_fallback == "shared" else dataclasses.replace(
        services, index=KnowledgeIndex(()))
    for tenant, folder in settings.tenant_actions_folders().items():  # its own actions, never another's
        tenants[tenant] = dataclasses.replace(tenants.get(tenant, fallback),
                                              actions=make_actions(settings, str(folder)))
    core = Core(services, stores, embedder, model, tenants=tenants, fallback=fallback)
    core.picker_model = _attach_picker(settings, [understanding, *tenant_understanding.values()])
    return core


def _attach_picker(settings: CoreSettings, understandings: list[Understanding]) -> LanguageModel | None:
    """Issue 13: with an OpenAI-compatible backend the LLM may also classify when the classifier is
    unsure (nlu/llm_pick.py); its own client, bounded by the time to a first token."""
    readers = [u for u in understandings if isinstance(u, CatalogUnderstanding)]
    if settings.backend != "openai" or not settings.intent_llm_pick or not readers:
        return None
    from models.llm_openai import OpenAICompatibleModel

    model = OpenAICompatibleModel(url=settings.openai_url, model=settings.openai_model,
                                  api_key=settings.openai_api_key, read_timeout=settings.llm_first_token_s)
    picker = LlmPicker(model, top_k=settings.intent_llm_top_k, deadline_s=settings.llm_first_token_s)
    for reader in readers:
        reader.picker = picker
    return model


def make_actions(settings: CoreSettings, folder: str = "") -> ActionService | None:
    """The declared backend actions of `folder` (default core.actions_path); None when unset."""
    folder = folder or settings.actions_path
    if not folder:
        return None
    from gateway.core.actions import ActionService, load_catalog
    from gateway.core.actions.tools import ToolRouter

    catalog = load_catalog(folder)
    tools = None if settings.backend != "openai" else ToolRouter(  # the same declarations as LLM tools
        catalog, url=settings.openai_url, model=settings.openai_model, api_key=settings.openai_api_key,
        timeout_s=settings.llm_first_token_s)
    return ActionService(catalog, risk_amount=settings.risk_amount, tools=tools)


def _build_index(folder: Path, db_path: str, embedder: Embedder | None,
                 stores: list[KnowledgeStore]) -> KnowledgeIndex:
    store = KnowledgeStore(db_path)
    stores.append(store)  # before ingest, so a failing ingest still has it closed
    ingest(folder, store, embedder)
    return load_index(store, embedder)
