"""The core's commands through argparse, as `gateway` registers them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.cli import core_cmds
from gateway.cli.groups import CommandGroups
from gateway.core.records import CoreRecords


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway")
    parser.add_argument("--config")
    top = parser.add_subparsers(dest="command", required=True)
    bench = top.add_parser("bench").add_subparsers(dest="bench", required=True)
    evaluate = top.add_parser("eval").add_subparsers(dest="eval", required=True)
    core_cmds.register(CommandGroups(top=top, bench=bench, eval=evaluate))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


def test_ingest_twice_reports_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("## Returns\nYou have 30 days.\n", "utf-8")
    db = str(tmp_path / "kb.sqlite3")
    assert _run(["kb", "ingest", str(kb), "--db", db, "--no-embeddings"]) == 0
    assert _run(["kb", "ingest", str(kb), "--db", db, "--no-embeddings"]) == 0
    out = capsys.readouterr()
    assert "added 1" in out.out and "unchanged 1" in out.out and "1/1" in out.err


def test_ingest_bad_document_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("- question: no answer\n", "utf-8")
    assert _run(["kb", "ingest", str(tmp_path / "bad.yaml"), "--db", str(tmp_path / "k.db"),
                 "--no-embeddings"]) == 2
    assert "kb-bad-document" in capsys.readouterr().err


def test_report_feedback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "core.sqlite3")
    records = CoreRecords(path)
    records.feedback("s1", 1, "How long is the warranty?", ("en/faq.yaml#faq-warranty",), True, "en")
    records.feedback("s2", 1, "保修期多长？", ("zh/faq.yaml#faq-warranty",), False, "zh")
    records.close()
    assert _run(["report", "feedback", "--records", path]) == 0
    out = capsys.readouterr().out
    assert "2 answers rated, 1 helpful (50%)" in out and "0/1" in out and "zh/faq.yaml#faq-warranty" in out
