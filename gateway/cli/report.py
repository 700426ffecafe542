"""`gateway report --since 7d`: calls, resolution, hand-offs, intents, actions, latency and the
knowledge-gap list from the stores, as text and as an HTML page with charts (docs/report.md).

`gateway report feedback` (core_cmds) stays as it was: this module hangs the options on the same
`report` command, which now runs without a sub-command too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.groups import CommandGroups


def register(groups: CommandGroups) -> None:
    report = groups.top.choices["report"]  # made by gateway.cli.core_cmds (listed before this module)
    for action in report._actions:  # `gateway report` alone is this report; `report feedback` as before
        if isinstance(action, argparse._SubParsersAction):
            action.required = False
    report.add_argument("--since", default="7d", help="window: 30m, 12h, 7d, 2w (default 7d)")
    report.add_argument("--store", help="transcript store SQLite (default: settings store.path)")
    report.add_argument("--records", help="core records SQLite (default: settings core.records_path)")
    report.add_argument("--tenant", help="one tenant's calls (default: every tenant)")
    report.add_argument("--html", help="where to write the HTML page (default: reports/ beside the "
                        "transcript store, served at /admin/report; '' = none)")
    report.add_argument("--no-embeddings", action="store_true",
                        help="cluster the knowledge gaps by shared words instead of the USE embedder")
    report.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.analytics.data import load_window, parse_since
    from gateway.analytics.figures import compute, gap_questions
    from gateway.analytics.gaps import cluster
    from gateway.analytics.page import report_file
    from gateway.analytics.render import html_page, text_summary
    from gateway.config import load_settings

    since = parse_since(args.since)
    settings = load_settings(args.config)
    store = args.store or settings.store.path
    records = args.records or settings.core.records_path
    for path in (store, records):
        if not Path(path).exists():
            print(f"gateway report: {path} does not exist (nothing stored yet?)", file=sys.stderr)
    window = load_window(store, records, since, tenant=args.tenant)
    report = compute(window)
    embedder = None
    if not args.no_embeddings:
        from models.embed_use import UseEmbedder

        embedder = UseEmbedder()
    try:
        report.gaps = cluster(gap_questions(window), embedder)
    finally:
        if embedder is not None:
            embedder.close()
    print(text_summary(report))
    html_path = report_file(settings.store.path, args.tenant) if args.html is None else args.html
    if html_path:
        out = Path(html_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html_page(report), encoding="utf-8")
        print(f"HTML report with charts: {out}")
    return 0
