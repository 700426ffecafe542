"""`gateway transcripts [SESSION_ID]`: print a stored session, or list recent ones."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.config import load_settings
from gateway.store.transcripts import list_sessions, read_transcript


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("transcripts", help="show a stored session's turns and errors")
    p.add_argument("session_id", nargs="?", help="omit to list recent sessions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--store", help="SQLite file (default: settings store.path)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.store or load_settings(args.config).store.path)
    if not path.exists():
        print(f"no transcript store at {path}", file=sys.stderr)
        return 1
    if not args.session_id:
        rows = list_sessions(path)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
        for r in rows:
            print(f"{r['id']}  {_time(r['started_at'])}  {r['channel']:<9} {r['language']:<4} "
                  f"turns={r['turns']:<3} {r['end_reason'] or 'live'}")
        return 0
    data = read_transcript(path, args.session_id)
    if data is None:
        print(f"no session {args.session_id}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    print(f"session {data['id']} channel={data['channel']} tenant={data['tenant']} "
          f"started={_time(data['started_at'])} ended={_time(data['ended_at'])} ({data['end_reason']})")
    for t in data["turns"]:
        timing = " ".join(f"{k}={v:.0f}ms" for k, v in t["timings"].items())
        print(f"  [{t['turn_id']}] {t['speaker']:<6} {t['modality']:<6} {t['language']:<3} {t['text']}"
              + (f"   ({timing})" if timing else ""))
    for e in data["errors"]:
        print(f"  error {e['code']}: {e['message']}")
    return 0


def _time(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
