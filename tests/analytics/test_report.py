"""`gateway report` on a store filled by a scripted day: its figures are the script's."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from gateway.analytics.data import load_window, parse_since
from gateway.analytics.figures import compare, compute, gap_questions
from gateway.analytics.gaps import cluster
from gateway.cli.main import main
from gateway.errors import ConfigError
from tests.analytics.scripted_day import ASSEMBLY, GIFT_WRAP, PICKUP, Expected, write_day


@pytest.fixture
async def day(tmp_path: Path) -> tuple[Path, Path, Expected]:
    store, records = tmp_path / "gateway.sqlite3", tmp_path / "core.sqlite3"
    expected = await write_day(store, records)
    return store, records, expected


async def test_the_figures_match_the_script(day: tuple[Path, Path, Expected]) -> None:
    store, records, expected = day
    assert expected.calls >= 300
    report = compute(load_window(store, records, parse_since("7d")))
    assert report.calls == expected.calls  # the ten-day-old calls are outside the window
    assert report.channels == expected.channels
    assert (report.feedback_yes, report.feedback_no) == (expected.yes, expected.no)
    assert report.handoffs == expected.handoffs
    assert report.unanswered == expected.unanswered
    assert {name: dict(a.outcomes) for name, a in report.actions.items()} == {
        name: dict(c) for name, c in expected.actions.items()}
    for name, a in report.actions.items():
        failed = sum(v for k, v in expected.actions[name].items() if k not in ("ok", "not-found"))
        total = sum(expected.actions[name].values())
        assert a.failed == failed and a.failure_rate == pytest.approx(failed / total)
    for stage, values in expected.stages.items():
        assert report.latency[stage].count == len(values)
        assert report.latency[stage].p50 == pytest.approx(float(np.percentile(values, 50)))
        assert report.latency[stage].p95 == pytest.approx(float(np.percentile(values, 95)))


async def test_the_experiment_arms_are_compared(day: tuple[Path, Path, Expected]) -> None:
    store, records, expected = day
    (ex,) = compute(load_window(store, records, parse_since("7d"))).experiments
    assert ex.name == "offers-test" and ex.sessions == expected.arms
    r = ex.resolution
    assert (r.a_hits, r.a_total, r.b_hits, r.b_total) == (
        expected.arm_yes["a"], expected.arm_answered["a"], expected.arm_yes["b"], expected.arm_answered["b"])
    assert r.significant and r.p < 0.01  # 92% against 70% over ~115 answers per arm
    h = ex.handoffs
    assert (h.a_hits, h.b_hits) == (expected.arm_handoffs["a"], expected.arm_handoffs["b"])
    assert not h.significant  # the script hands off 15% of both arms


def test_the_two_proportion_test() -> None:
    c = compare(60, 100, 40, 100)  # pooled 0.5, se 0.0707: z = 2.83, p = 0.0047
    assert c.z == pytest.approx(2.828, abs=1e-3) and c.p == pytest.approx(0.00468, abs=1e-4)
    assert c.significant
    assert not compare(52, 100, 48, 100).significant
    assert compare(0, 0, 5, 10).p == 1.0


async def test_the_unanswerable_questions_top_the_gap_list(day: tuple[Path, Path, Expected]) -> None:
    from models.embed_use import UseEmbedder

    store, records, expected = day
    window = load_window(store, records, parse_since("7d"))
    embedder = UseEmbedder()
    try:
        gaps = cluster(gap_questions(window), embedder)
    finally:
        embedder.close()
    themes = {"gift-wrap": set(GIFT_WRAP), "pickup": set(PICKUP), "assembly": set(ASSEMBLY)}
    top = gaps[:3]
    found = {}
    for gap in top:
        (theme,) = {t for t, wordings in themes.items() if set(gap.wordings) <= wordings}  # one theme each
        found[theme] = gap.count
    assert found == dict(expected.themes)  # each theme is one cluster holding all its questions
    assert all(gap.unanswered == gap.count for gap in top)
    assert all(g.count < min(found.values()) for g in gaps[3:])  # the "no" answers come after


async def test_the_command_prints_the_summary_and_writes_the_page(day: tuple[Path, Path, Expected],
                                                                  tmp_path: Path) -> None:
    store, records, expected = day
    out = io.StringIO()
    html = tmp_path / "report.html"
    with contextlib.redirect_stdout(out):
        code = main(["report", "--since", "7d", "--store", str(store), "--records", str(records),
                     "--html", str(html), "--no-embeddings"])
    text = out.getvalue()
    assert code == 0
    assert f"calls: {expected.calls} " in text
    assert f"yes {expected.yes}, no {expected.no}" in text
    for reason, n in expected.handoffs.items():
        assert f"  {reason:<22} {n}" in text
    assert "experiment offers-test" in text and "more than noise" in text and "within noise" in text
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and "Knowledge gaps" in page and "<script" not in page


def test_a_bad_window_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_since("a week")
