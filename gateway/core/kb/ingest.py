"""Ingest a folder (or one file) of knowledge documents into the store; only changed ones.

Blocking (parsing, embedding, SQLite): the CLI calls it directly, the server from a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.core.kb.documents import discover, load_document
from gateway.core.kb.index import KnowledgeIndex
from gateway.core.kb.store import KnowledgeStore
from models.base import Embedder

Progress = Callable[[int, int, str], None]  # (done, total, document name)


@dataclass(frozen=True)
class IngestReport:
    added: int
    updated: int
    unchanged: int
    removed: int
    passages: int  # passages in the store afterwards


def _embedder_id(embedder: Embedder | None) -> str:
    if embedder is None:
        return ""
    return f"{getattr(embedder, 'name', type(embedder).__name__)}:{embedder.dimensions}"


def ingest(root: Path, store: KnowledgeStore, embedder: Embedder | None = None,
           progress: Progress | None = None, prune: bool = True) -> IngestReport:
    """Parse every document under root; re-index those whose content hash changed.

    With prune, documents no longer under root are removed (root is the whole knowledge base).
    A change of embedder re-embeds every passage.
    """
    files = discover(root)
    base = root if root.is_dir() else root.parent
    known = store.hashes()
    added = updated = unchanged = 0
    seen: set[str] = set()
    for n, path in enumerate(files, start=1):
        name = path.relative_to(base).as_posix()
        seen.add(name)
        doc = load_document(path, name)
        if known.get(name) == doc.sha256:
            unchanged += 1
        else:
            vectors = embedder.embed([p.search_text for p in doc.passages]) if embedder else None
            store.replace(doc, vectors)
            if name in known:
                updated += 1
            else:
                added += 1
        if progress is not None:
            progress(n, len(files), name)
    removed = sorted(set(known) - seen) if prune and root.is_dir() else []
    store.remove(removed)
    wanted = _embedder_id(embedder)
    if embedder is not None:
        missing = [(p, e) for p, e in store.passages() if e is None or store.get_meta("embedder") != wanted]
        if missing:
            vectors = embedder.embed([p.search_text for p, _ in missing])
            store.set_embeddings((p.id, vectors[i]) for i, (p, _) in enumerate(missing))
        store.set_meta("embedder", wanted)
    return IngestReport(added, updated, unchanged, len(removed), len(store.passages()))


def load_index(store: KnowledgeStore, embedder: Embedder | None = None) -> KnowledgeIndex:
    rows = store.passages()
    passages = [p for p, _ in rows]
    embeddings = None
    if embedder is not None and rows and all(e is not None for _, e in rows):
        embeddings = np.stack([np.frombuffer(e, dtype=np.float32) for _, e in rows if e is not None])
        if embeddings.shape[1] != embedder.dimensions:
            embeddings = None
    return KnowledgeIndex(passages, embeddings, embedder)
