"""Assemble the conversation core from settings: ingest the knowledge base, load the index.

build_core() is blocking (it parses, embeds and indexes documents that changed since the last
start: about 1.5 s for the bundled knowledge base, mostly loading the embedding model); call it
at start-up or from a thread.
"""

from __future__ import annotations

from pathlib import Path

from gateway.core.api import Conversation
from gateway.core.conversation import CoreConversation
from gateway.core.kb.ingest import ingest, load_index
from gateway.core.kb.store import KnowledgeStore
from gateway.core.services import CoreServices
from gateway.core.settings import CoreSettings
from models.base import Embedder


class Core:
    """The ConversationCore: one per process, shared by every session."""

    def __init__(self, services: CoreServices, store: KnowledgeStore, embedder: Embedder | None) -> None:
        self.services = services
        self._store = store
        self._embedder = embedder

    def open(self, *, session_id: str, channel: str, language: str, tenant: str) -> Conversation:
        return CoreConversation(self.services, session_id=session_id, channel=channel,
                                language=language, tenant=tenant)

    async def aclose(self) -> None:
        self._store.close()
        if self._embedder is not None:
            self._embedder.close()


def make_embedder(settings: CoreSettings) -> Embedder | None:
    if not settings.embeddings:
        return None
    from models.embed_use import UseEmbedder

    return UseEmbedder(threads=1)


def build_core(settings: CoreSettings) -> Core:
    settings.validate()
    embedder = make_embedder(settings)
    store = KnowledgeStore(settings.db_path)
    ingest(Path(settings.kb_folder()), store, embedder)
    services = CoreServices(settings=settings, index=load_index(store, embedder))
    return Core(services, store, embedder)
