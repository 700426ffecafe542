"""The `gateway ocr` / `eval ocr` / `bench ocr` commands register and `gateway ocr` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.cli import ocr
from gateway.cli.groups import CommandGroups
from modalities.screen.evaluation import samples_dir


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser()
    top = root.add_subparsers(dest="command")
    bench = top.add_parser("bench").add_subparsers(dest="bench")
    evaluate = top.add_parser("eval").add_subparsers(dest="eval")
    ocr.register(CommandGroups(top=top, bench=bench, eval=evaluate))
    return root


def test_commands_registered() -> None:
    p = parser()
    assert p.parse_args(["ocr", "a.png", "--json"]).func is not None
    assert p.parse_args(["eval", "ocr", "--no-baseline"]).func is not None
    assert p.parse_args(["bench", "ocr", "--repeat", "2"]).repeat == 2


def test_bad_image_reports_its_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"plain text")
    args = parser().parse_args(["ocr", str(bad)])
    assert args.func(args) == 1
    assert "image-unsupported-format" in capsys.readouterr().out


@pytest.mark.slow
def test_ocr_prints_summary_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["ocr", str(samples_dir() / "error_en.png")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "error dialog" in out and "E4031" in out and "timings ms" in out
