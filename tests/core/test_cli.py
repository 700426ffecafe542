"""The core's commands through argparse, as `gateway` registers them."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import core_cmds
from gateway.cli.groups import CommandGroups
from gateway.core.records import CoreRecords
from gateway.errors import ConfigError, ModelUnavailable


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


@pytest.mark.parametrize("command", [["kb", "search", "returns"], ["kb", "ingest", "samples/kb"],
                                     ["report", "feedback"], ["serve"]])
def test_invalid_settings_are_one_line_on_stderr_and_status_2(tmp_path: Path, command: list[str]) -> None:
    """As the `gateway` console command runs them (gateway.cli.main), in a process of its own."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[core]\ntop_k = "lots"\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "--config", str(bad), *command],
                          capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "gateway: invalid settings: core.top_k must be int, got 'lots'"
    assert "Traceback" not in done.stderr + done.stdout and done.stdout == ""



@pytest.mark.parametrize(("error", "status", "line"), [
    (ConfigError("tenants.file x.toml not found"), 2,
     "gateway: invalid settings: tenants.file x.toml not found"),
    (ModelUnavailable("faster-whisper is not installed"), 1,
     "gateway: model-unavailable: faster-whisper is not installed"),
])
def test_a_problem_found_while_serve_starts_is_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    error: Exception, status: int, line: str,
) -> None:
    """Settings can go wrong after they loaded (a file removed before start) and engines can be missing."""
    from gateway.cli import serve
    from gateway.cli.main import main

    async def failing_start(*_: object) -> None:
        raise error

    monkeypatch.setattr(serve, "serve", failing_start)
    monkeypatch.setattr(serve, "configure_logging", lambda *_: None)
    assert main(["serve"]) == status
    captured = capsys.readouterr()
    assert captured.err.strip() == line and captured.out == ""


def test_an_unknown_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["bench", "core", "--backends", "grounded,gpt9"])
    assert exit_info.value.code == 2
    assert "unknown backend 'gpt9'" in capsys.readouterr().err
    assert _parser().parse_args(["bench", "core"]).backends == ["grounded", "llama"]
