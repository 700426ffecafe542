"""Batching ASR calls across sessions (gateway/asr_batch.py and its wiring in gateway/engines.py)
with a scripted engine: no model needed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from gateway.asr_batch import AsrBatcher, Item
from gateway.engines import Engines
from gateway.errors import BackendError, MediaError
from models.base import TranscriberInfo, Transcript
from tests.conftest import make_settings


class ScriptedAsr:
    """Hears the number of samples; blocks each call until `gate` opens; 'bad' audio is an item
    error, `crash` fails the whole call."""

    info = TranscriberInfo("scripted", ("en",), 16000)

    def __init__(self) -> None:
        self.calls: list[int] = []  # batch sizes
        self.gate = threading.Event()
        self.crash = False

    def transcribe_batch(self, items: Sequence[Item]) -> list[Transcript | Exception]:
        self.gate.wait(5)
        self.calls.append(len(items))
        if self.crash:
            raise RuntimeError("engine crashed")
        return [MediaError("bad audio", code="audio-bad-format") if len(a) == 13
                else Transcript(f"{len(a)} {p or ''}".strip(), lang or "en", 1.0, len(a) / 16000)
                for a, lang, p in items]

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        result = self.transcribe_batch([(audio, language, prompt)])[0]
        assert isinstance(result, Transcript)
        return result

    def close(self) -> None: ...


async def _run(call: object) -> list[Transcript | Exception]:
    return await asyncio.to_thread(call)  # type: ignore[arg-type]


def samples(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.float32)


async def test_calls_arriving_while_a_batch_runs_go_together_into_the_next() -> None:
    engine = ScriptedAsr()
    waits: list[float] = []
    batcher = AsrBatcher(engine, _run, max_batch=3, waited=waits.append)
    first = asyncio.create_task(batcher.transcribe(samples(100), "en", None))
    await asyncio.sleep(0.05)  # the first call runs alone: nothing waits for a batch to fill
    rest = [asyncio.create_task(batcher.transcribe(samples(200 + i), "en", f"p{i}")) for i in range(4)]
    await asyncio.sleep(0.05)
    assert batcher.waiting == 4
    engine.gate.set()
    texts = [r.text for r in await asyncio.gather(first, *rest)]
    assert texts == ["100", "200 p0", "201 p1", "202 p2", "203 p3"]  # each caller its own result
    assert engine.calls == [1, 3, 1]  # bounded by max_batch
    assert (batcher.decoded, batcher.batches) == (5, 3)
    assert len(waits) == 5 and batcher.waiting == 0


async def test_an_item_error_goes_to_its_caller_and_a_cancelled_caller_is_left_out() -> None:
    engine = ScriptedAsr()
    batcher = AsrBatcher(engine, _run, max_batch=8, waited=lambda _: None)
    first = asyncio.create_task(batcher.transcribe(samples(100), "en", None))
    await asyncio.sleep(0.05)
    bad = asyncio.create_task(batcher.transcribe(samples(13), "en", None))
    gone = asyncio.create_task(batcher.transcribe(samples(300), "en", None))
    good = asyncio.create_task(batcher.transcribe(samples(400), "en", None))
    await asyncio.sleep(0.05)
    gone.cancel()
    engine.gate.set()
    assert (await first).text == "100" and (await good).text == "400"
    with pytest.raises(MediaError):
        await bad
    assert engine.calls == [1, 2]  # the hung-up caller's audio was not decoded


async def test_an_engine_failure_reaches_every_caller_of_the_batch_as_asr_failed(tmp_path: Path) -> None:
    engine = ScriptedAsr()
    engines = Engines(make_settings(tmp_path, asr_batch=8))
    engines._loaded["asr:tiny.en"] = engine  # the engine cache is the injection point
    first = asyncio.create_task(engines.transcribe("tiny.en", samples(100), "en", None))
    await asyncio.sleep(0.05)
    engine.crash = True
    others = [asyncio.create_task(engines.transcribe("tiny.en", samples(200), "en", None)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert engines.waiting == 3  # queued for the next batch: the admission probe sees them
    engine.gate.set()
    with pytest.raises(BackendError):
        await first
    for call in others:
        with pytest.raises(BackendError) as info:
            await call
        assert info.value.code == "asr-failed"
    assert engine.calls == [1, 3] and "asr:tiny.en" not in engines._loaded  # dropped: reloaded next use


async def test_batching_is_a_setting_and_off_by_default(tmp_path: Path) -> None:
    assert make_settings(tmp_path).speech.asr_batch == 1
    settings = make_settings(tmp_path, asr_batch=1)
    engine = ScriptedAsr()
    engine.gate.set()
    engines = Engines(settings)
    engines._loaded["asr:tiny.en"] = engine
    results = await asyncio.gather(*(engines.transcribe("tiny.en", samples(100 + i), "en", None)
                                     for i in range(3)))
    assert [r.text for r in results] == ["100", "101", "102"] and engine.calls == [1, 1, 1]
    assert engines.asr_work() == (3, 3)


class BarrierAsr(ScriptedAsr):
    """Each call waits for `parties` calls to be inside the engine at once (or times out)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=2)
        self.overlapped = 0

    def transcribe(self, audio: np.ndarray, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        try:
            self.barrier.wait()
            self.overlapped += 1
        except threading.BrokenBarrierError:
            pass
        return Transcript(str(len(audio)), "en", 1.0, len(audio) / 16000)


@pytest.mark.parametrize(("workers", "overlapped"), [(2, 2), (1, 0)])
async def test_asr_workers_decode_that_many_calls_at_once(tmp_path: Path, workers: int,
                                                          overlapped: int) -> None:
    """speech.asr_workers (2 by default) is how many calls of different sessions are inside the
    engine together; with 1 the second waits for the first (the barrier then times out)."""
    assert make_settings(tmp_path).speech.asr_workers == 2
    engine = BarrierAsr(2)
    engines = Engines(make_settings(tmp_path, asr_workers=workers))
    engines._loaded["asr:tiny.en"] = engine
    results = await asyncio.gather(*(engines.transcribe("tiny.en", samples(100 + i), "en", None)
                                     for i in range(2)))
    assert [r.text for r in results] == ["100", "101"]
    assert engine.overlapped == overlapped
