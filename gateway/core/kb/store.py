"""The knowledge index on disk: documents (with content hashes) and passages (with embeddings).

Blocking sqlite3; callers run it in a thread. One connection per KnowledgeStore.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.core.kb.documents import Document, Passage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL REFERENCES documents(name) ON DELETE CASCADE,
    title TEXT NOT NULL, text TEXT NOT NULL, language TEXT NOT NULL, embedding BLOB);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc);
"""


class KnowledgeStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()  # the connection is shared by ingest and serve threads
        with self._lock, self._db:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT name, sha256 FROM documents").fetchall())

    def replace(self, doc: Document, embeddings: npt.NDArray[np.float32] | None) -> None:
        """Atomically swap one document's passages (and their embeddings, row per passage)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM documents WHERE name = ?", (doc.name,))
            self._db.execute("INSERT INTO documents VALUES (?, ?)", (doc.name, doc.sha256))
            self._db.executemany(
                "INSERT OR REPLACE INTO passages VALUES (?, ?, ?, ?, ?, ?)",
                [(p.id, p.doc, p.title, p.text, p.language,
                  None if embeddings is None else embeddings[i].astype(np.float32).tobytes())
                 for i, p in enumerate(doc.passages)])

    def set_embeddings(self, rows: Iterable[tuple[str, npt.NDArray[np.float32]]]) -> None:
        with self._lock, self._db:
            self._db.executemany("UPDATE passages SET embedding = ? WHERE id = ?",
                                 [(v.astype(np.float32).tobytes(), pid) for pid, v in rows])

    def remove(self, names: Iterable[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM documents WHERE name = ?", [(n,) for n in names])

    def passages(self) -> list[tuple[Passage, bytes | None]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, doc, title, text, language, embedding FROM passages ORDER BY id").fetchall()
        return [(Passage(r[0], r[1], r[2], r[3], r[4]), r[5]) for r in rows]
