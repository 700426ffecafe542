"""Entry point of the `gateway` console command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway.cli.groups import CommandGroups
from gateway.errors import ConfigError

# Each module registers its own commands (see groups.py). Listed, not discovered, so the
# command set is explicit and an import error names the module.
COMMAND_MODULES = (
    "gateway.cli.serve",
    "gateway.cli.call",
    "gateway.cli.voice_bench",
    "gateway.cli.transcripts",
    "gateway.cli.models",
    "gateway.cli.sign",
    "gateway.cli.phone",
    "gateway.cli.ocr",
    "gateway.cli.core_cmds",
    "gateway.cli.intents_cmds",
    "gateway.cli.webrtc_bench",
    "gateway.cli.ops",
    "gateway.cli.load_bench",
    "gateway.cli.handoff_bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    parser.add_argument("--config", help="settings file (TOML); env GATEWAY_CONFIG")
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = top.add_parser("bench", help="measure speed (p50/p95)").add_subparsers(
        dest="bench", required=True, metavar="WHAT")
    evaluate = top.add_parser("eval", help="measure accuracy on real data").add_subparsers(
        dest="eval", required=True, metavar="WHAT")
    groups = CommandGroups(top=top, bench=bench, eval=evaluate)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ConfigError as exc:  # every command: a bad settings file, variable or option is one line
        print(f"gateway: invalid settings: {exc}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
