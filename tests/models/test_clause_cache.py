"""The bounded clause cache of synthesized speech (models/clause_cache.py): pure, no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from models.clause_cache import ClauseCache


def audio(n: int, value: int = 100) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)  # 2 bytes a sample


def test_a_hit_returns_the_same_read_only_audio_and_counts() -> None:
    cache = ClauseCache(1000)
    assert cache.get("a") is None
    stored = cache.put("a", [audio(10), audio(5, 7)])
    got = cache.get("a")
    assert got is stored and [len(c) for c in got] == [10, 5] and int(got[1][0]) == 7
    assert not any(c.flags.writeable for c in got)  # shared between callers
    with pytest.raises(ValueError):
        got[0][0] = 1
    assert (cache.hits, cache.misses, cache.bytes, len(cache)) == (1, 1, 30, 1)


def test_the_bound_evicts_the_least_recently_used_first() -> None:
    cache = ClauseCache(100)  # 50 samples
    cache.put("a", [audio(20)])
    cache.put("b", [audio(20)])
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", [audio(20)])  # 120 bytes > 100: evict "b", not "a"
    assert cache.keys() == ["a", "c"] and cache.bytes == 80 and cache.evictions == 1
    assert cache.get("b") is None


def test_audio_larger_than_the_bound_is_returned_but_not_kept() -> None:
    cache = ClauseCache(10)
    out = cache.put("big", [audio(6)])  # 12 bytes
    assert len(out[0]) == 6 and len(cache) == 0 and cache.bytes == 0
    assert ClauseCache(0).put("x", [audio(1)])[0].size == 1  # 0: caching off


def test_replacing_a_key_does_not_leak_bytes_and_the_caller_cannot_change_a_stored_view() -> None:
    cache = ClauseCache(1000)
    cache.put("a", [audio(10)])
    cache.put("a", [audio(30)])
    assert cache.bytes == 60 and len(cache) == 1
    source = audio(20)
    cache.put("v", [source[5:15]])  # a view into the caller's buffer
    source[:] = 0
    got = cache.get("v")
    assert got is not None and int(got[0][0]) == 100


def test_lookups_decided_elsewhere_are_counted() -> None:
    cache = ClauseCache(100)
    assert cache.get("a", count=False) is None and cache.misses == 0
    cache.count(True)
    cache.count(False)
    assert (cache.hits, cache.misses) == (1, 1)
