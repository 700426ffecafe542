"""`gateway intents train` (the tenant's intent catalog -> classifier weights) and
`gateway eval intents DATASET` (public intent benchmarks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.errors import GatewayError

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "intents"


def register(groups: CommandGroups) -> None:
    intents = groups.top.add_parser("intents", help="the intent catalog and its classifier")
    actions = intents.add_subparsers(dest="intents", required=True, metavar="ACTION")
    p = actions.add_parser("train", help="train the intent classifier on a catalog (intents.yaml)")
    p.add_argument("--catalog", help="catalog YAML (default: core.intent_catalog, intents.yaml in "
                   "core.kb_path, else the bundled one)")
    p.add_argument("--out", help="weights .npz (default: settings core.intent_model_path)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=run_train)

    p = actions.add_parser("enrich", help="the bundled LLM paraphrases the catalog's examples into "
                           "intents.enriched.yaml beside it, for review (training then uses them)")
    p.add_argument("--catalog", help="catalog YAML (default as for train)")
    p.add_argument("--per-intent", type=int, default=6, help="new examples per intent, at most (1..50)")
    p.add_argument("--out", help="output YAML (default: intents.enriched.yaml beside the catalog)")
    p.set_defaults(func=run_enrich)

    p = groups.eval.add_parser("intents", help="intent accuracy and out-of-scope recall on public benchmarks")
    p.add_argument("dataset", help="clinc150, banking77, massive_zh_cn, or a file in its published format")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cache", default=str(CACHE), help="embedding cache folder ('' = none)")
    p.add_argument("--save", help="also write the trained weights here (.npz)")
    p.set_defaults(func=run_eval_intents)


def run_train(args: argparse.Namespace) -> int:
    import time

    from gateway.config import load_settings
    from gateway.core.build import make_embedder
    from gateway.core.nlu.understand import catalog_path_for, train_catalog

    settings = load_settings(args.config).core
    path = Path(args.catalog) if args.catalog else catalog_path_for(settings.kb_folder(), settings)
    out = Path(args.out or settings.intent_model_path)
    embedder = make_embedder(settings)
    if embedder is None:
        print("error [config-invalid]: the intent classifier needs core.embeddings = true", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        model = train_catalog(path, embedder, out, seed=args.seed)
    except GatewayError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    finally:
        embedder.close()
    prov = model.provenance
    print(f"trained {len(model.labels)} intents on {prov['examples']} examples from {path} in "
          f"{time.perf_counter() - started:.1f} s (seed {args.seed}, best epoch {prov['best_epoch']}); "
          f"temperature {model.temperature:.2f}, out-of-scope threshold {model.threshold:.3f}; "
          f"-> {out} ({out.stat().st_size // 1024} KiB)")
    return 0


def run_enrich(args: argparse.Namespace) -> int:
    import time

    from gateway.config import load_settings
    from gateway.core.nlu.catalog import load_catalog
    from gateway.core.nlu.enrich import enrich, write
    from gateway.core.nlu.understand import catalog_path_for
    from models.llm_llamacpp import LlamaCppModel

    if not 1 <= args.per_intent <= 50:
        print("error [config-invalid]: --per-intent must be 1..50", file=sys.stderr)
        return 2
    settings = load_settings(args.config).core
    path = Path(args.catalog) if args.catalog else catalog_path_for(settings.kb_folder(), settings)
    started = time.perf_counter()
    try:
        catalog = load_catalog(path)
        model = LlamaCppModel(threads=settings.llm_threads)
        model.load()
    except GatewayError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    try:
        found = enrich(catalog, model, args.per_intent, say=lambda line: print(line, file=sys.stderr))
    finally:
        model.close()
    out = write(catalog, found, Path(args.out) if args.out else None)
    total = sum(len(v) for langs in found.values() for v in langs.values())
    print(f"{total} paraphrases for {len(found)} intents in {time.perf_counter() - started:.0f} s -> {out} "
          "(review it; training uses it when it sits beside the catalog)")
    return 0


def run_eval_intents(args: argparse.Namespace) -> int:
    from gateway.core.nlu.benchmarks import load_benchmark
    from gateway.core.nlu.scoring import score_benchmark
    from gateway.evaluation import realdata_dir
    from models.embed_use import UseEmbedder

    root = realdata_dir()
    try:
        bench = load_benchmark(args.dataset, (root or Path("../shared/realdata")) / "intents")
    except GatewayError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    embedder = UseEmbedder()
    try:
        result = score_benchmark(bench, embedder, Path(args.cache) if args.cache else None, seed=args.seed,
                                 say=lambda line: print(line, file=sys.stderr))
    finally:
        embedder.close()
    if args.save:
        result.model.save(Path(args.save))
    print(f"{result.name}: {result.split}; trained on {result.train_examples}, reported on "
          f"{result.report_examples} ({result.oos_examples} out of scope); seed {args.seed}")
    print(f"  in-scope accuracy {100 * result.in_scope_accuracy:.1f}% (rejections count as errors; "
          f"{100 * result.in_scope_accuracy_no_reject:.1f}% top label without rejection"
          f"{', the papers measure' if result.oos_recall is None else ''})")
    if result.oos_recall is not None:
        print(f"  out-of-scope recall {100 * result.oos_recall:.1f}%")
    print(f"  {result.ms_p50:.1f} ms p50, {result.ms_per_utterance:.1f} ms mean per utterance in-process "
          "(embedding + n-grams + classifier; "
          f"2 shared cores); training {result.train_seconds:.1f} s; calibrated threshold "
          f"{result.model.threshold:.3f}, temperature {result.model.temperature:.2f}, best epoch "
          f"{result.model.provenance.get('best_epoch')}; kNN evidence k={result.model.knn_k} "
          f"weight {result.model.knn_beta:g} (chosen on the calibration fold)")
    return 0
