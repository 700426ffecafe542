"""Where command modules hang their sub-commands: top level, `gateway bench X`, `gateway eval X`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandGroups:
    top: argparse._SubParsersAction  # gateway serve|call|ocr|sign|kb|transcripts ...
    bench: argparse._SubParsersAction  # gateway bench voice|core|ocr|sign|phone ...
    eval: argparse._SubParsersAction  # gateway eval asr|dialogs|ocr|sign ...

# A command module defines `register(groups: CommandGroups) -> None`, adding parsers whose
# defaults set `func=<callable(args) -> int>` (the exit code).
