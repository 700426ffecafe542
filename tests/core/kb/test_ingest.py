from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.core.kb.ingest import ingest, load_index
from gateway.core.kb.store import KnowledgeStore


class CountingEmbedder:
    name = "counting"
    dimensions = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded.extend(texts)
        out = np.ones((len(texts), 4), np.float32)
        return out / 2.0

    def close(self) -> None:
        pass


def test_reingest_touches_changed_documents_only(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("## One\nReturns take 30 days.\n", "utf-8")
    (kb / "b.md").write_text("## Two\nShipping takes 3 days.\n", "utf-8")
    store, embedder = KnowledgeStore(str(tmp_path / "kb.sqlite3")), CountingEmbedder()
    seen: list[tuple[int, int, str]] = []
    first = ingest(kb, store, embedder, lambda d, t, n: seen.append((d, t, n)))
    assert (first.added, first.passages) == (2, 2) and seen[-1] == (2, 2, "b.md")
    embedder.embedded.clear()
    (kb / "b.md").write_text("## Two\nShipping takes 5 days.\n", "utf-8")
    second = ingest(kb, store, embedder)
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    assert embedder.embedded == ["Two\nShipping takes 5 days."]
    (kb / "a.md").unlink()
    third = ingest(kb, store, embedder)
    assert third.removed == 1 and third.passages == 1
    index = load_index(store, embedder)
    assert index.hybrid and [p.id for p in index.passages] == ["b.md#two"]
    store.close()


def test_index_prefers_the_callers_language(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "en").mkdir(parents=True)
    (kb / "zh").mkdir()
    (kb / "en" / "r.md").write_text("## Return window\nYou have 30 days to return an item.\n", "utf-8")
    (kb / "zh" / "r.md").write_text("## 退货期限\n自签收之日起30天内可以退货。\n", "utf-8")
    store = KnowledgeStore(":memory:")
    ingest(kb, store)
    index = load_index(store)
    assert index.search("退货期限", "zh")[0].passage.id == "zh/r.md#退货期限"
    assert index.search("return window", "en")[0].passage.language == "en"
    assert index.search("capital of France", "en") == []
