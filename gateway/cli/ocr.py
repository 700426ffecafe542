"""`gateway ocr IMAGE...`, `gateway eval ocr`, `gateway bench ocr`: screenshots to structured turns."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.errors import GatewayError
from gateway.evaluation import realdata_dir
from modalities.screen.settings import ENGINES, ScreenSettings


def register(groups: CommandGroups) -> None:
    ocr = groups.top.add_parser("ocr", help="read screenshots: text, fields, kind, timings")
    ocr.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    ocr.add_argument("--language", default="en", help="language of the turn text (en, zh)")
    ocr.add_argument("--json", action="store_true", help="print one JSON object per image")
    _engine_arg(ocr)
    ocr.set_defaults(func=_cmd_ocr)

    ev = groups.eval.add_parser("ocr", help="CER on realdata/ocr and samples/screens; field P/R")
    ev.add_argument("--realdata", type=Path, help="folder with ocr/ (default: ../shared/realdata)")
    ev.add_argument("--no-baseline", action="store_true", help="skip RapidOCR's default settings")
    _engine_arg(ev)
    ev.set_defaults(func=_cmd_eval)

    bench = groups.bench.add_parser("ocr", help="p50/p95 per screenshot: ours vs RapidOCR defaults")
    bench.add_argument("images", nargs="*", type=Path, help="default: samples/screens/*.png")
    bench.add_argument("--repeat", type=int, default=5)
    _engine_arg(bench)
    bench.set_defaults(func=_cmd_bench)


def _engine_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=ENGINES, default="ppocr-v4")
    parser.add_argument("--threads", type=int, default=2)


def _settings(args: argparse.Namespace) -> ScreenSettings:
    settings = ScreenSettings(engine=args.engine, threads=args.threads)
    settings.validate()
    return settings


def _cmd_ocr(args: argparse.Namespace) -> int:
    from modalities.screen.engines import SharedEngine
    from modalities.screen.reader import ScreenReader

    settings = _settings(args)
    shared = SharedEngine(settings)
    status = 0
    try:
        for path in args.images:
            reader = ScreenReader(settings, shared.get)
            try:
                result = reader.read(path.read_bytes())
            except (OSError, GatewayError) as exc:
                code = getattr(exc, "code", "io-error")
                print(f"{path}: error {code}: {exc}")
                status = 1
                continue
            turn = result.to_turn(args.language)
            if args.json:
                print(json.dumps({"image": str(path), "kind": result.kind, "summary": turn.text,
                                  "fields": turn.detail["fields"],
                                  "lines": [ln.text for ln in result.lines],
                                  "timings_ms": dict(result.timings_ms)}, ensure_ascii=False))
                continue
            print(f"== {path} ({result.size[0]}x{result.size[1]}, {result.kind})")
            print(f"summary: {turn.text}")
            for f in result.fields:
                print(f"  field {f.kind:16} {f.value}" + (f"   [{f.label}]" if f.label else ""))
            for block in result.blocks:
                print("  | " + block.text.replace("\n", "\n  | "))
            print("timings ms: " + ", ".join(f"{k} {v:.0f}" for k, v in result.timings_ms.items()))
    finally:
        shared.close()
    return status


def _cmd_eval(args: argparse.Namespace) -> int:
    from modalities.screen import evaluation as ev
    from modalities.screen.engines import SharedEngine
    from modalities.screen.intake import decode_image
    from modalities.screen.reader import ScreenReader

    settings = _settings(args)
    shared = SharedEngine(settings)
    stock = None
    if not args.no_baseline:
        from models.ocr_rapid import RapidOcrStock

        stock = RapidOcrStock()
    base = "rapidocr-default"
    try:
        root = args.realdata or realdata_dir()
        folder = root / "ocr" if root is not None else None
        if folder is not None and folder.is_dir():
            print(f"realdata OCR ({folder}): CER per image, ours ({settings.engine}) vs {base}")
            ours_all, base_all = [], []
            for name, (reference, mode) in ev.REALDATA_OCR.items():
                path = folder / name
                if not path.is_file():
                    print(f"  {name:34} missing")
                    continue
                data = path.read_bytes()
                lines = ScreenReader(settings, shared.get).recognise(decode_image(data, settings))
                ours = ev.realdata_cer(reference, mode, lines)
                ours_all.append(ours)
                row = f"  {name:34} {mode:6} ours {ours:6.3f}"
                if stock is not None:
                    theirs = ev.realdata_cer(reference, mode, stock.read_bytes(data))
                    base_all.append(theirs)
                    row += f"   {base} {theirs:6.3f}"
                print(row)
            print(f"  mean CER: ours {statistics.fmean(ours_all):.3f}"
                  + (f", {base} {statistics.fmean(base_all):.3f}" if base_all else ""))
        else:
            print(f"realdata not found ({folder or '../shared/realdata absent'}): skipped "
                  "(set GATEWAY_REALDATA)")

        print("samples/screens: CER (order-independent) and field precision/recall")
        totals = {"ours": [0, 0], "base": [0, 0]}
        tp = extracted = expected = 0
        for sample in ev.load_samples():
            data = sample.image.read_bytes()
            reader = ScreenReader(settings, shared.get)
            lines = reader.recognise(decode_image(data, settings))
            err, n = ev.item_cer(sample.items, lines)
            totals["ours"][0] += err
            totals["ours"][1] += n
            result = ScreenReader(settings, shared.get).read(data)
            t, g, w = ev.field_scores(sample.fields, [(f.kind, f.value) for f in result.fields])
            tp, extracted, expected = tp + t, extracted + g, expected + w
            flag = "" if result.kind == sample.kind else " (expected " + sample.kind + ")"
            row = (f"  {sample.name:16} ours CER {err / max(n, 1):6.4f}  fields P {t / max(g, 1):.2f}"
                   f" R {t / max(w, 1):.2f}  kind {result.kind}{flag}")
            if stock is not None:
                berr, bn = ev.item_cer(sample.items, stock.read_bytes(data))
                totals["base"][0] += berr
                totals["base"][1] += bn
                row += f"   {base} CER {berr / max(bn, 1):6.4f}"
            print(row)
        ours_cer = totals["ours"][0] / max(totals["ours"][1], 1)
        line = f"  overall: ours CER {ours_cer:.4f}"
        if stock is not None:
            line += f", {base} CER {totals['base'][0] / max(totals['base'][1], 1):.4f}"
        print(line + f"; fields precision {tp / max(extracted, 1):.3f} recall {tp / max(expected, 1):.3f}"
              f" ({tp}/{extracted} extracted, {tp}/{expected} expected)")
    finally:
        shared.close()
        if stock is not None:
            stock.close()
    return 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cmd_bench(args: argparse.Namespace) -> int:
    from modalities.screen.engines import SharedEngine
    from modalities.screen.evaluation import samples_dir
    from modalities.screen.reader import ScreenReader
    from models.ocr_rapid import RapidOcrStock

    settings = _settings(args)
    images = args.images or sorted(samples_dir().glob("*.png"))
    shared = SharedEngine(settings)
    stock = RapidOcrStock()
    try:
        blobs = [(p.name, p.read_bytes()) for p in images]
        shared.get()
        ScreenReader(settings, shared.get).read(blobs[0][1])  # warm-up: first runs allocate
        stock.read_bytes(blobs[0][1])
        stages: dict[str, list[float]] = {}
        ours: dict[str, list[float]] = {n: [] for n, _ in blobs}
        theirs: dict[str, list[float]] = {n: [] for n, _ in blobs}
        for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
            for name, data in blobs:
                t = time.perf_counter()
                result = ScreenReader(settings, shared.get).read(data)  # cold: nothing to reuse
                result.to_turn("en")
                ours[name].append((time.perf_counter() - t) * 1000)
                for stage, ms in result.timings_ms.items():
                    stages.setdefault(stage, []).append(ms)
                t = time.perf_counter()
                stock.read_bytes(data)
                theirs[name].append((time.perf_counter() - t) * 1000)
        print(f"bytes -> turn, ours ({settings.engine}, {settings.threads} threads, fresh reader) vs "
              f"RapidOCR defaults (bytes -> lines), {args.repeat} runs each, ms")
        print(f"  {'image':22} {'ours p50':>9} {'p95':>6} {'min':>5} {'default p50':>12} {'p95':>6} "
              f"{'min':>5} {'ratio p50':>10}")
        for name, _ in blobs:
            _row(name, ours[name], theirs[name])
        _row("ALL", [v for vs in ours.values() for v in vs], [v for vs in theirs.values() for v in vs])
        print("  ours by stage, p50 ms: " + ", ".join(
            f"{stage} {statistics.median(values):.0f}" for stage, values in stages.items()))
        _bench_reuse(settings, shared, blobs, args.repeat)
    finally:
        shared.close()
        stock.close()
    return 0


def _row(name: str, ours: list[float], theirs: list[float]) -> None:
    o50, d50 = statistics.median(ours), statistics.median(theirs)
    print(f"  {name:22} {o50:9.0f} {_pct(ours, 0.95):6.0f} {min(ours):5.0f} {d50:12.0f} "
          f"{_pct(theirs, 0.95):6.0f} {min(theirs):5.0f} {d50 / o50:9.2f}x")


def _bench_reuse(settings: ScreenSettings, shared: object, blobs: list[tuple[str, bytes]],
                 repeat: int) -> None:
    """Screen share: the same reader sees a screenshot, then one with a small change."""
    from modalities.screen.reader import ScreenReader

    by_name = dict(blobs)
    if "order_en.png" not in by_name or "order_en_update.png" not in by_name:
        return
    changed, same = [], []
    for _ in range(repeat):
        reader = ScreenReader(settings, shared.get)  # type: ignore[attr-defined]
        reader.read(by_name["order_en.png"])
        t = time.perf_counter()
        reader.read(by_name["order_en_update.png"]).to_turn("en")
        changed.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        reader.read(by_name["order_en_update.png"]).to_turn("en")
        same.append((time.perf_counter() - t) * 1000)
    print(f"  reuse (same reader): one line changed p50 {statistics.median(changed):.0f} ms "
          f"p95 {_pct(changed, 0.95):.0f}; unchanged p50 {statistics.median(same):.0f} ms "
          f"p95 {_pct(same, 0.95):.0f}")
