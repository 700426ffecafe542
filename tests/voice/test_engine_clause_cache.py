"""The clause cache in front of every voice (gateway/engines.py): hits, keys, one synthesis for a
burst of callers asking for the same piece, prompts voiced at start-up, failures not cached."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway.app import fixed_prompts
from gateway.engines import Engines
from gateway.errors import BackendError
from modalities.voice.clauses import speakable_pieces
from models.base import SynthesizerInfo
from tests.conftest import make_settings


class CountingVoice:
    info = SynthesizerInfo("piper-test", ("en",), 16000)

    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def synthesize(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        self.gate.wait(5)
        self.calls.append(text)
        if self.fail:
            raise RuntimeError("voice crashed")
        yield np.full(160 * len(text), 500, dtype=np.int16)

    def close(self) -> None: ...


def engines_with(voice: CountingVoice, tmp_path: Path, **voice_settings: object) -> Engines:
    settings = make_settings(tmp_path)
    settings = dataclasses.replace(settings, voice=dataclasses.replace(settings.voice, **voice_settings))  # type: ignore[arg-type]
    engines = Engines(settings)
    engines._loaded["tts:piper"] = voice  # the engine cache is the injection point
    return engines


async def test_a_repeated_piece_is_synthesized_once(tmp_path: Path) -> None:
    voice = CountingVoice()
    engines = engines_with(voice, tmp_path)
    first, rate = await engines.synthesize("Hello there.", "en")
    again, _ = await engines.synthesize("Hello there.", "en")
    other, _ = await engines.synthesize("Goodbye.", "en")
    assert voice.calls == ["Hello there.", "Goodbye."] and rate == 16000
    assert np.array_equal(first[0], again[0]) and len(other[0]) == 160 * len("Goodbye.")
    cache = engines.clause_cache
    assert (cache.hits, cache.misses) == (1, 2)


async def test_a_burst_asking_for_the_same_piece_waits_for_one_synthesis(tmp_path: Path) -> None:
    voice = CountingVoice()
    voice.gate.clear()  # the first synthesis is slow: the others arrive while it runs
    engines = engines_with(voice, tmp_path)
    calls = [asyncio.create_task(engines.synthesize("Please hold.", "en")) for _ in range(5)]
    await asyncio.sleep(0.05)
    calls[0].cancel()  # the first caller hangs up: the others still get their audio
    voice.gate.set()
    results = await asyncio.gather(*calls[1:])
    assert voice.calls == ["Please hold."]
    assert all(len(chunks[0]) == 160 * len("Please hold.") for chunks, _ in results)
    assert (engines.clause_cache.hits, engines.clause_cache.misses) == (4, 1)


async def test_a_failed_synthesis_is_reported_to_every_waiter_and_not_cached(tmp_path: Path) -> None:
    voice = CountingVoice(fail=True)
    engines = engines_with(voice, tmp_path)
    for _ in range(2):  # tried again on the next use, not served from the cache
        with pytest.raises(BackendError) as info:
            await engines.synthesize("Hello.", "en")
        assert info.value.code == "tts-failed"
        engines._loaded["tts:piper"] = voice  # a failed engine is dropped; put the stub back
    assert voice.calls == ["Hello.", "Hello."] and len(engines.clause_cache) == 0


async def test_fixed_prompts_are_voiced_at_start_up_as_the_reply_worker_cuts_them(tmp_path: Path) -> None:
    voice = CountingVoice()
    engines = engines_with(voice, tmp_path)
    prompts = fixed_prompts(("en",))["en"]
    assert prompts and not any("{" in p for p in prompts)
    added = engines.warm_prompts({"en": prompts})
    assert added == len({p for line in prompts for p in speakable_pieces(line)}) == len(voice.calls)
    voice.calls.clear()
    handoff = "I'm connecting you to a person now. They will see our conversation so far."
    assert handoff in prompts
    for piece in speakable_pieces(handoff):  # what a reply worker asks for
        await engines.synthesize(piece, "en")
    assert voice.calls == []  # every piece came from the cache
    assert engines.warm_prompts({"en": prompts}) == 0  # nothing voiced twice


async def test_the_cache_size_is_a_setting_and_zero_turns_it_off(tmp_path: Path) -> None:
    voice = CountingVoice()
    engines = engines_with(voice, tmp_path, clause_cache_mb=0)
    await engines.synthesize("Hello.", "en")
    await engines.synthesize("Hello.", "en")
    assert voice.calls == ["Hello.", "Hello."]
