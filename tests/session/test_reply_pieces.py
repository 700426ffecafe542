"""The reply worker hands the voice a short opening piece for a Chinese reply (first audio sooner)
and whole clauses after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import numpy as np

from gateway.core.api import CoreEvent, ReplyClause
from gateway.engines import Engines
from gateway.events import AudioFormat
from gateway.metrics import Metrics
from gateway.session.messages import Result
from gateway.session.reply import ReplyWorker
from gateway.tracing import untraced


class RecordingVoice:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    def tts_backend(self, language: str) -> str:
        return "recording"

    async def synthesize(self, text: str, language: str) -> tuple[list[np.ndarray], int]:
        self.pieces.append(text)
        return [np.zeros(320, dtype=np.int16)], 16000


async def _clauses(*texts: str) -> AsyncIterator[CoreEvent]:
    for i, text in enumerate(texts):
        yield ReplyClause(text, "zh", final=i == len(texts) - 1)


async def test_a_chinese_reply_opens_with_a_short_piece_and_later_clauses_stay_whole() -> None:
    voice = RecordingVoice()
    results: list[Result] = []

    async def tell(result: Result) -> None:
        results.append(result)

    worker = ReplyWorker(cast(Engines, cast(Any, voice)), Metrics(), AudioFormat("pcm16", 16000), tell,
                         session_id="s", core_backend="grounded")
    first = "自签收之日起30天内，未使用且保留原包装的商品可以申请退货。"
    second = "仓库收到退货后2个工作日内完成检验，之后退款在5到7个工作日内原路退回。"
    await worker.voice(1, _clauses(first, second), "zh", "bot", None, 0.0, untraced())
    assert voice.pieces[:2] == ["自签收之日起30天内，", "未使用且保留原包装的商品可以申请退货。"]
    assert voice.pieces[2:] == [second]  # not the reply's opening: whole
