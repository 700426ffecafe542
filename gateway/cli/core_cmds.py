"""Commands of the conversation core: `gateway kb ingest|search`, `gateway eval dialogs`,
`gateway bench core`, `gateway report feedback`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gateway.cli.groups import CommandGroups
from gateway.core.build import Core
from gateway.core.settings import BACKENDS, CoreSettings
from gateway.errors import GatewayError
from models.base import LanguageModel

W = TypeVar("W", bound=LanguageModel)
DIALOGS = Path(__file__).resolve().parents[2] / "samples" / "dialogs"


def register(groups: CommandGroups) -> None:
    kb = groups.top.add_parser("kb", help="knowledge base").add_subparsers(
        dest="kb", required=True, metavar="ACTION"
    )
    p = kb.add_parser("ingest", help="index Markdown, FAQ YAML/JSON, CSV and text (changed documents only)")
    p.add_argument("path", help="a folder (the whole knowledge base) or one file")
    p.add_argument("--db", help="index SQLite file (default: settings core.db_path)")
    p.add_argument("--no-embeddings", action="store_true", help="BM25 only")
    p.set_defaults(func=run_ingest)
    p = kb.add_parser("search", help="show what retrieval finds for a question")
    p.add_argument("query")
    p.add_argument("--language", default="", help="en, zh; empty = guess")
    p.add_argument("--tenant", default="", help="what this tenant's sessions search (core.tenant_kb_root)")
    p.set_defaults(func=run_search)

    p = groups.eval.add_parser("dialogs", help="scripted multi-turn dialogues per backend")
    p.add_argument("--backends", type=_backends, default="grounded,llama", help=f"comma list of {BACKENDS}")
    p.add_argument("--dialogs", default=str(DIALOGS), help="folder of dialogue YAML files")
    p.add_argument("--verbose", action="store_true", help="print every failed expectation")
    p.add_argument("--llm-timeout", type=float, help="seconds per LLM turn (and to its first token)")
    p.set_defaults(func=run_eval)

    p = groups.bench.add_parser("core", help="time to first reply clause per backend; LLM tokens/s")
    p.add_argument("--backends", type=_backends, default="grounded,llama", help=f"comma list of {BACKENDS}")
    p.add_argument("--rounds", type=int, default=1, help="passes over the 16 questions")
    p.add_argument("--llm-timeout", type=float, help="seconds per LLM turn (and to its first token)")
    p.set_defaults(func=run_bench)

    report = groups.top.add_parser("report", help="reports from stored data").add_subparsers(
        dest="report", required=True, metavar="WHAT"
    )
    p = report.add_parser("feedback", help="answers to 'did this solve your problem?'")
    p.add_argument("--records", help="core records SQLite (default: settings core.records_path)")
    p.add_argument("--tenant", help="this tenant's feedback only (default: every tenant)")
    p.set_defaults(func=run_feedback)


def _settings(args: argparse.Namespace) -> CoreSettings:
    from gateway.config import load_settings

    settings = load_settings(args.config).core
    if getattr(args, "llm_timeout", None):
        settings = dataclasses.replace(
            settings, llm_timeout_s=args.llm_timeout, llm_first_token_s=args.llm_timeout
        ).validate()
    return settings


def _backends(raw: str) -> list[str]:
    """argparse type: a bad name is a usage error (status 2), like any other bad option."""
    names = [b.strip() for b in raw.split(",") if b.strip()]
    for name in names:
        if name not in BACKENDS:
            raise argparse.ArgumentTypeError(f"unknown backend {name!r}; choose from {BACKENDS}")
    return names


def run_ingest(args: argparse.Namespace) -> int:
    from gateway.core.build import make_embedder
    from gateway.core.kb.ingest import ingest
    from gateway.core.kb.store import KnowledgeStore

    settings = _settings(args)
    settings = dataclasses.replace(settings, embeddings=settings.embeddings and not args.no_embeddings)

    def progress(done: int, total: int, name: str) -> None:
        filled = round(30 * done / total)
        print(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {name[:40]:<40}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    store = KnowledgeStore(args.db or settings.db_path)
    embedder = make_embedder(settings)
    try:
        report = ingest(Path(args.path), store, embedder, progress)
    except GatewayError as exc:
        print(f"\nerror [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(file=sys.stderr)
    print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}; {report.passages} passages in {args.db or settings.db_path}"
        f"{' with embeddings' if embedder else ''}"
    )
    return 0


def run_search(args: argparse.Namespace) -> int:
    from gateway.core.build import build_core

    core = build_core(dataclasses.replace(_settings(args), records_path=":memory:"))
    for hit in core.services_for(args.tenant).index.search(args.query, args.language, 5):
        print(f"{hit.score:.3f} (lexical {hit.lexical:.2f}, semantic {hit.semantic:.2f}) {hit.passage.id}")
        print(f"      {hit.passage.text[:120]}")
    asyncio.run(core.aclose())
    return 0


def _core_for(settings: CoreSettings, backend: str, wrap: Callable[[LanguageModel], W]
              ) -> tuple[Core, W | None]:
    from gateway.core.build import build_core, make_model

    settings = dataclasses.replace(settings, backend=backend, records_path=":memory:")
    model = make_model(settings)
    wrapped = None if model is None else wrap(model)
    return build_core(settings, model=wrapped), wrapped


def run_eval(args: argparse.Namespace) -> int:
    from gateway.core.evaluation import RecordingModel, load_dialogs, run_dialogs

    dialogs = load_dialogs(Path(args.dialogs))
    settings = _settings(args)
    print(f"{len(dialogs)} dialogues from {args.dialogs}")
    print(
        f"{'backend':<10} {'task success':>13} {'grounded':>10} {'handoffs':>10} {'step-ups':>10} "
        f"{'PII leaks':>9} {'LLM-phrased':>11}"
    )
    worst = 0
    for backend in args.backends:
        try:
            core, model = _core_for(settings, backend, RecordingModel)
        except GatewayError as exc:
            print(f"{backend:<10} unavailable: [{exc.code}] {exc}")
            continue
        score = asyncio.run(run_dialogs(core, dialogs, model))
        asyncio.run(core.aclose())
        handoffs = f"{score.handoffs_correct}/{score.handoffs_expected}"
        stepups = f"{score.stepups_correct}/{score.stepups_expected}"
        if score.handoffs_unexpected or score.stepups_unexpected:
            handoffs += f" +{score.handoffs_unexpected}"
            stepups += f" +{score.stepups_unexpected}"
        print(
            f"{backend:<10} {score.succeeded:>5}/{score.dialogs:<3} "
            f"{_pct(score.succeeded, score.dialogs):>4} "
            f"{_pct(score.grounded, score.answers):>10} {handoffs:>10} {stepups:>10} {score.pii_leaks:>9} "
            f"{score.llm_answers:>4}/{score.answers:<4}"
        )
        if score.ood_turns or score.emergencies_expected:
            print(
                f"{'':<10} turns correct {score.turns_ok}/{score.turns} {_pct(score.turns_ok, score.turns)}; "
                f"confident answers out of domain {score.ood_confident_wrong}/{score.ood_turns} "
                f"{_pct(score.ood_confident_wrong, score.ood_turns)}; emergency recall "
                f"{score.emergencies_caught}/{score.emergencies_expected}; "
                f"false emergencies {score.false_emergencies}"
            )
        if args.verbose:
            for failure in score.failures:
                print(f"    {failure}")
        worst = max(worst, score.pii_leaks)
    return 1 if worst else 0


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.0f}%" if d else "n/a"


def run_bench(args: argparse.Namespace) -> int:
    from gateway.core.bench import TimingModel, bench_core

    settings = _settings(args)
    results = []
    print(
        f"{'backend':<10} {'first clause p50':>17} {'p95':>8} {'whole reply p50':>16} {'LLM-phrased':>12} "
        f"{'tokens/s':>9}"
    )
    for backend in args.backends:
        try:
            core, model = _core_for(settings, backend, TimingModel)
        except GatewayError as exc:
            print(f"{backend:<10} unavailable: [{exc.code}] {exc}")
            continue
        result = asyncio.run(bench_core(core, backend, max(1, args.rounds)))
        asyncio.run(core.aclose())
        tps = f"{model.tokens_per_second():.1f}" if isinstance(model, TimingModel) else "-"
        results.append(result)
        print(
            f"{backend:<10} {result.p50:>14.0f} ms {result.p95:>5.0f} ms {result.reply_p50:>13.0f} ms "
            f"{result.llm_phrased:>6}/{len(result.first_clause_ms):<5} {tps:>9}"
        )
        if result.prepared_first_ms and result.prepared_p50 > 0:
            print(f"{'':<10} understanding prepared in the pause: first clause p50 "
                  f"{result.prepared_p50:.1f} ms, p95 {result.prepared_p95:.1f} ms; p50 ratio "
                  f"not prepared/prepared {result.p50 / result.prepared_p50:.1f}x, in-process")
        if result.emergency_ms:
            print(f"{'':<10} emergency check (phrase floor + meaning) p50 {result.emergency_p50:.1f} ms, "
                  f"max {max(result.emergency_ms):.1f} ms, in-process")
    if len(results) > 1 and results[0].p50 > 0:
        for other in results[1:]:
            print(
                f"first-clause p50 ratio {other.backend}/{results[0].backend}: "
                f"{other.p50 / results[0].p50:.1f}x"
            )
    return 0


def run_feedback(args: argparse.Namespace) -> int:
    from gateway.core.records import CoreRecords

    path = args.records or _settings(args).records_path
    if path != ":memory:" and not Path(path).exists():
        print(f"no core records at {path}", file=sys.stderr)
        return 1
    records = CoreRecords(path)
    summary = records.summary(args.tenant)
    records.close()
    print(
        f"{summary.answered} answers rated, {summary.helpful} helpful "
        f"({_pct(summary.helpful, summary.answered)})"
    )
    for source, (helpful, total) in sorted(
        summary.by_source.items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0])
    ):
        print(f"  {helpful:>3}/{total:<3} {_pct(helpful, total):>5}  {source}")
    return 0
