"""Public intent benchmarks for `gateway eval intents`: CLINC150, BANKING77, MASSIVE zh-CN.

Splits (all fixed before any tuning):
- CLINC150: train = `train` + `oos_train`; report = `val` + `oos_val` (folder) or `test` +
  `oos_test` (a published data_full.json given as a path).
- BANKING77 (no validation split): a stratified 20% of train.csv held out by seed 13 is the report
  set; the rest trains. A BANKING77 CSV given as a path (e.g. the published test.csv) is the
  report set instead and all of train.csv trains.
- MASSIVE zh-CN: train.csv trains; validation.csv (or a CSV given as a path) is the report set.
The classifier's own calibration fold is carved out of the training part (trainer.py).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.errors import GatewayError

OOS = "oos"
DATASETS = ("clinc150", "banking77", "massive_zh_cn")
HOLDOUT_SEED = 13
MAX_FILE_BYTES = 64 * 1024 * 1024


class BenchmarkError(GatewayError):
    code = "intents-bad-dataset"


@dataclass(frozen=True)
class Benchmark:
    name: str
    train: list[tuple[str, str]]
    report: list[tuple[str, str]]
    split: str  # how the report set was obtained, printed with the figures


def _read(path: Path) -> str:
    if not path.is_file():
        raise BenchmarkError(f"{path}: not found")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BenchmarkError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return path.read_text("utf-8")


def _csv(path: Path, text_col: str, label_col: str) -> list[tuple[str, str]]:
    rows = list(csv.DictReader(_read(path).splitlines()))
    if not rows or text_col not in rows[0] or label_col not in rows[0]:
        raise BenchmarkError(f"{path}: expected CSV columns {text_col!r} and {label_col!r}")
    return [(r[text_col], r[label_col]) for r in rows]


def _pairs(data: dict[str, object], *keys: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in keys:
        for item in data.get(key) or []:  # type: ignore[attr-defined]
            out.append((str(item[0]), str(item[1])))
    return out


def stratified_holdout(pairs: list[tuple[str, str]], share: float, seed: int
                       ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(kept, held out): `share` of every label held out, by a seeded permutation."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, (_, label) in enumerate(pairs):
        by_label.setdefault(label, []).append(i)
    held: set[int] = set()
    for label in sorted(by_label):
        idx = by_label[label]
        n = max(1, round(share * len(idx))) if len(idx) > 1 else 0
        held.update(int(i) for i in rng.permutation(idx)[:n])
    out = [p for i, p in enumerate(pairs) if i in held]
    texts = {t for t, _ in out}  # a text repeated in the file stays on the held-out side only
    return [p for i, p in enumerate(pairs) if i not in held and p[0] not in texts], out


def load_benchmark(name_or_path: str, root: Path) -> Benchmark:
    """A dataset name (read from root/<name>) or a file in a dataset's published format."""
    path = Path(name_or_path)
    if name_or_path in DATASETS:
        folder = root / name_or_path
        if not folder.is_dir():
            raise BenchmarkError(f"{folder}: not found (set GATEWAY_REALDATA or put ../shared/realdata)")
        if name_or_path == "clinc150":
            data = json.loads(_read(folder / "data_full_trainval.json"))
            return Benchmark("clinc150", _pairs(data, "train", "oos_train"), _pairs(data, "val", "oos_val"),
                             "train+oos_train -> val+oos_val")
        if name_or_path == "banking77":
            kept, held = stratified_holdout(_csv(folder / "train.csv", "text", "category"), 0.2, HOLDOUT_SEED)
            return Benchmark("banking77", kept, held,
                             f"train.csv, stratified 20% held out (seed {HOLDOUT_SEED})")
        return Benchmark("massive_zh_cn", _csv(folder / "train.csv", "text", "label_text"),
                         _csv(folder / "validation.csv", "text", "label_text"), "train.csv -> validation.csv")
    if path.suffix == ".json":
        data = json.loads(_read(path))
        if not isinstance(data, dict) or "train" not in data or "test" not in data:
            raise BenchmarkError(f"{path}: expected CLINC150 JSON with 'train' and 'test' keys")
        return Benchmark("clinc150", _pairs(data, "train", "oos_train"), _pairs(data, "test", "oos_test"),
                         f"{path.name}: train+oos_train -> test+oos_test")
    header = _read(path).split("\n", 1)[0]
    if "category" in header:  # BANKING77: train on the whole of the stored train.csv
        train = _csv(root / "banking77" / "train.csv", "text", "category")
        return Benchmark("banking77", train, _csv(path, "text", "category"), f"train.csv -> {path.name}")
    if "label_text" in header:
        train = _csv(root / "massive_zh_cn" / "train.csv", "text", "label_text")
        return Benchmark("massive_zh_cn", train, _csv(path, "text", "label_text"),
                         f"train.csv -> {path.name}")
    raise BenchmarkError(f"{path}: not a CLINC150 JSON, BANKING77 CSV or MASSIVE CSV")
