"""`gateway bench handoff` runs end to end (two `gateway serve` processes, a real redis-server)."""

from __future__ import annotations

import argparse
import re
import shutil

import pytest

from gateway.cli import handoff_bench

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_bench_prints_each_step_for_both_placements(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed: apt-get install redis-server")
    assert handoff_bench.run(argparse.Namespace(rounds=2, redis_url=None)) == 0
    out = capsys.readouterr().out
    for step in handoff_bench.STEPS:
        row = re.search(rf"^{step}\s+([\d.]+) /\s+([\d.]+)\s+([\d.]+) /\s+([\d.]+)\s+([\d.]+)$", out, re.M)
        assert row is not None, out
        assert all(float(v) > 0 for v in row.groups())


def test_bench_refuses_a_bad_round_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert handoff_bench.run(argparse.Namespace(rounds=0, redis_url=None)) == 2
    assert "--rounds must be" in capsys.readouterr().out
