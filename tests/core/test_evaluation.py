"""The dialogue suite on the grounded backend, and the leak scanner catching a planted leak."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.build import Core, build_core
from gateway.core.evaluation import Dialog, RecordingModel, Turn, load_dialogs, run_dialogs
from gateway.core.settings import CoreSettings
from tests.core.test_phrasing import Scripted

DIALOGS = Path(__file__).resolve().parents[2] / "samples" / "dialogs"


@pytest.fixture(scope="module")
def hybrid_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    db = tmp_path_factory.mktemp("kb") / "kb.sqlite3"
    built = build_core(CoreSettings(db_path=str(db), records_path=":memory:"))
    yield built
    asyncio.run(built.aclose())


def test_suite_covers_every_intent_and_policy() -> None:
    dialogs = load_dialogs(DIALOGS)
    assert len(dialogs) >= 40 and {d.language for d in dialogs} == {"en", "zh"}
    expects = [t.expect for d in dialogs for t in d.turns]
    intents = {e["intent"] for e in expects if "intent" in e}
    assert intents == {"product_question", "order_status", "return_refund", "payment_transfer", "complaint",
                       "account_change", "human_request", "emergency", "other"}
    assert {e["handoff"] for e in expects if "handoff" in e} >= {"emergency", "caller-request", "frustration",
                                                                  "verification-failed", "dtmf"}
    assert any(e.get("verify") for e in expects) and any(e.get("silent") for e in expects)


@pytest.mark.slow
async def test_grounded_backend_passes_the_suite(hybrid_core: Core) -> None:
    score = await run_dialogs(hybrid_core, load_dialogs(DIALOGS))
    assert score.failures == []
    assert score.succeeded == score.dialogs and score.grounded == score.answers > 30
    assert score.pii_values >= 5 and score.pii_leaks == 0


@pytest.mark.slow
async def test_leak_scanner_finds_a_planted_leak(hybrid_core: Core) -> None:
    recorder = RecordingModel(Scripted([]))
    recorder.sent.append("caller said 4111 1111 1111 1111")  # as if raw text had reached the model
    dialog = Dialog("leak", "en", (Turn("my card 4111 1111 1111 1111 was charged twice", "text", {}),))
    score = await run_dialogs(hybrid_core, [dialog], recorder)
    assert score.pii_leaks == 1 and "llm" in score.failures[-1]
