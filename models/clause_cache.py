"""A bounded cache of synthesized speech, shared by every session and every voice.

Contact-center replies repeat: the same knowledge-base answers, prompts and hand-off lines come
back call after call, and synthesizing a clause costs far more than keeping its audio (Piper
~0.08 CPU-s, Kokoro ~0.5 CPU-s per second of speech; an hour of 22 kHz int16 audio is 160 MB).
Entries are keyed by whatever identifies the audio exactly (the gateway uses engine, voice, sample
rate, language and text), bounded by bytes, least recently used evicted first. Cached arrays are
read-only: every caller shares them. Thread-safe (engines run in worker threads).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence

import numpy as np

from models.base import Int16Audio

Chunks = tuple[Int16Audio, ...]


class ClauseCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[Hashable, Chunks] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        """Oldest (next to be evicted) first."""
        with self._lock:
            return list(self._entries)

    def get(self, key: Hashable, *, count: bool = True) -> Chunks | None:
        """The audio for `key` (counted as a hit or a miss unless `count` is False)."""
        with self._lock:
            chunks = self._entries.get(key)
            if chunks is not None:
                self._entries.move_to_end(key)
            if count:
                self._count(chunks is not None)
            return chunks

    def count(self, hit: bool) -> None:
        """Counts a look-up decided elsewhere (e.g. a caller served by a synthesis already running)."""
        with self._lock:
            self._count(hit)

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def put(self, key: Hashable, chunks: Sequence[Int16Audio]) -> Chunks:
        """Keeps `chunks` under `key` (read-only copies' views) unless they alone exceed the bound;
        returns what callers should use (the cached tuple, or the chunks as given)."""
        frozen = tuple(_frozen(c) for c in chunks)
        size = sum(c.nbytes for c in frozen)
        if size > self.max_bytes:
            return frozen
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= sum(c.nbytes for c in old)
            self._entries[key] = frozen
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.bytes -= sum(c.nbytes for c in evicted)
                self.evictions += 1
        return frozen

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


def _frozen(chunk: Int16Audio) -> Int16Audio:
    out = np.asarray(chunk, dtype=np.int16)
    if out.flags.writeable:
        out = out.copy() if out.base is not None else out  # a view must not change under us
        out.setflags(write=False)  # shared between callers: nobody may change it
    return out
