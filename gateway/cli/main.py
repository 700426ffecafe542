"""Entry point of the `gateway` console command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway.cli.doctor import register_without_extra
from gateway.cli.groups import CommandGroups
from gateway.errors import ConfigError, ModelUnavailable

# Each module registers its own commands (see groups.py). Listed, not discovered, so the
# command set is explicit and an import error names the module.
COMMAND_MODULES = (
    "gateway.cli.serve",
    "gateway.cli.call",
    "gateway.cli.loadtest",
    "gateway.cli.pipecat_bench",  # `gateway bench pipecat`: the same loadtest against Pipecat
    "gateway.cli.voice_bench",
    "gateway.cli.asr_bench",  # `gateway bench asr` / `tts-zh`: the engines alone
    "gateway.cli.tts_bench",
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
    "gateway.cli.soak_bench",
    "gateway.cli.report",  # after core_cmds: adds `gateway report --since 7d` to its `report`
    "gateway.cli.doctor",
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
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # an extra not installed: the command says which (doctor.py)
            if not register_without_extra(groups, name, exc):
                raise
            continue
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ConfigError as exc:  # every command: a bad settings file, variable or option is one line
        print(f"gateway: invalid settings: {exc}", file=sys.stderr)
        return 2
    except ModelUnavailable as exc:  # a missing extra or weights: one line naming the fix
        print(f"gateway: {exc.code}: {exc}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
