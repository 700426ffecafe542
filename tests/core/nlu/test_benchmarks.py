"""`gateway eval intents` inputs: the dataset folders and files in each dataset's published format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.core.nlu.benchmarks import BenchmarkError, load_benchmark, stratified_holdout
from gateway.evaluation import realdata_dir


def _root(tmp_path: Path) -> Path:
    (tmp_path / "banking77").mkdir(exist_ok=True)
    rows = "".join(f"text {i} {c},{c}\n" for c in ("card_arrival", "top_up") for i in range(10))
    (tmp_path / "banking77" / "train.csv").write_text("text,category\n" + rows, "utf-8")
    (tmp_path / "massive_zh_cn").mkdir(exist_ok=True)
    header = "id,label,text,label_text,label_text_ch\n"
    (tmp_path / "massive_zh_cn" / "train.csv").write_text(
        header + "1,48,叫醒我,alarm_set,报警器\n2,3,天气,weather_query,天气\n", "utf-8")
    return tmp_path


def test_published_files_are_accepted(tmp_path: Path) -> None:
    root = _root(tmp_path)
    clinc = tmp_path / "data_full.json"
    clinc.write_text(json.dumps({"train": [["hi", "greet"]], "oos_train": [["sing", "oos"]], "val": [],
                                 "test": [["hello", "greet"]], "oos_test": [["dance", "oos"]]}), "utf-8")
    bench = load_benchmark(str(clinc), root)
    assert bench.name == "clinc150" and ("sing", "oos") in bench.train and bench.report == [
        ("hello", "greet"), ("dance", "oos")]
    banking_test = tmp_path / "test.csv"
    banking_test.write_text("text,category\nwhere is my card,card_arrival\n", "utf-8")
    bench = load_benchmark(str(banking_test), root)
    assert bench.name == "banking77" and len(bench.train) == 20
    assert bench.report == [("where is my card", "card_arrival")]
    massive = tmp_path / "test_zh.csv"
    massive.write_text("id,label,text,label_text,label_text_ch\n9,48,明早叫我,alarm_set,报警器\n", "utf-8")
    assert load_benchmark(str(massive), root).report == [("明早叫我", "alarm_set")]
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n", "utf-8")
    with pytest.raises(BenchmarkError):
        load_benchmark(str(bad), root)


def test_banking_holdout_is_fixed_stratified_and_disjoint(tmp_path: Path) -> None:
    bench = load_benchmark("banking77", _root(tmp_path))
    assert len(bench.report) == 4 and {y for _, y in bench.report} == {"card_arrival", "top_up"}
    assert not {t for t, _ in bench.report} & {t for t, _ in bench.train}
    assert bench.report == load_benchmark("banking77", _root(tmp_path)).report
    kept, held = stratified_holdout([(str(i), "a") for i in range(10)], 0.2, 1)
    assert len(held) == 2 and len(kept) == 8


def test_the_real_datasets_load_when_present() -> None:
    root = realdata_dir()
    if root is None or not (root / "intents").is_dir():
        pytest.skip("../shared/realdata/intents is absent (set GATEWAY_REALDATA)")
    clinc = load_benchmark("clinc150", root / "intents")
    assert len(clinc.train) == 15100 and len(clinc.report) == 3100
    banking = load_benchmark("banking77", root / "intents")
    # Held out before anything else, and no held-out text is trained on (train.csv repeats one).
    assert len(banking.report) == 1998 and not {t for t, _ in banking.report} & {t for t, _ in banking.train}
