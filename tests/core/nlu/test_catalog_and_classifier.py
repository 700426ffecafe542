"""Intent catalog validation, the classifier's training/calibration, amounts, yes/no (no models)."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.cli.main import main
from gateway.core.build import build_core
from gateway.core.dialog.amounts import parse_amount
from gateway.core.dialog.state import yes_no
from gateway.core.nlu.catalog import CatalogError, default_catalog_path, load_catalog
from gateway.core.nlu.classifier import FEATURES, OOS, IntentModel, TrainConfig, _fold, decide, train
from gateway.core.nlu.features import hashed, ngrams
from gateway.core.nlu.understand import train_catalog
from gateway.core.settings import CoreSettings

GOOD = """
intents:
  - name: refund
    route: {kb: [returns]}
    examples: {en: ["I want my money back", "refund please"], zh: ["我要退款"]}
  - name: hello
    route: {action: smalltalk}
    examples: {en: ["hi", "hello"]}
"""


def test_the_default_catalog_has_the_built_in_intents() -> None:
    catalog = load_catalog(default_catalog_path())
    reported = {i.reports for i in catalog.intents}
    assert {"product_question", "order_status", "return_refund", "payment_transfer", "complaint",
            "account_change", "human_request", "emergency", "other"} <= reported
    assert catalog.get("oos") is not None
    for intent in catalog.intents:  # both languages for every intent
        assert {lang for lang, _ in intent.examples} == {"en", "zh"}, intent.name


@pytest.mark.parametrize(("body", "where"), [
    ("intents: []", "file"),
    ("intents: [{route: {kb: [x]}, examples: {en: [a, b]}}]", "entry 1"),
    (GOOD + "  - name: bad\n    route: {policy: launch-missiles}\n    examples: {en: [a, b]}\n",
     "entry 3 ('bad')"),
    (GOOD + "  - name: bad\n    route: {kb: [x]}\n    examples: {fr: [a, b]}\n", "entry 3 ('bad')"),
    (GOOD + "  - name: refund\n    route: {kb: [x]}\n    examples: {en: [a, b]}\n", "intent 'refund'"),
    (GOOD + "  - name: bad\n    route: {kb: [x]}\n    examples: {en: [only-one]}\n", "entry 3 ('bad')"),
    ("intents: [unclosed", "file"),
])
def test_a_malformed_catalog_names_the_file_and_the_entry(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text(body, "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and where in message and "\n" not in message


def test_a_malformed_catalog_stops_train_and_the_core(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.md").write_text("# Returns\n\nYou have 30 days.\n", "utf-8")
    (kb / "intents.yaml").write_text(GOOD + "  - name: broken\n    route: {kb: [x]}\n", "utf-8")
    args = ["intents", "train", "--catalog", str(kb / "intents.yaml"), "--out", str(tmp_path / "w.npz")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "intents.yaml" in err[0] and "entry 3 ('broken')" in err[0]
    settings = CoreSettings(kb_path=str(kb), db_path=":memory:", records_path=":memory:", embeddings=False)
    with pytest.raises(CatalogError, match="entry 3"):
        build_core(settings)  # what `gateway serve` runs at start: one line, status 2 (cli.main)


def test_the_catalog_is_not_ingested_as_knowledge(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "faq.md").write_text("# Returns\n\nYou have 30 days.\n", "utf-8")
    (kb / "intents.yaml").write_text(GOOD, "utf-8")
    core = build_core(CoreSettings(kb_path=str(kb), db_path=":memory:", records_path=":memory:",
                                   embeddings=False))
    assert {p.doc for p in core.services.index.passages} == {"faq.md"}


def _toy(seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16)).astype(np.float32)
    labels = [["refund", "delivery", OOS][i % 3] for i in range(150)]
    emb = np.stack([centres[i % 3] + 0.3 * rng.normal(size=16) for i in range(150)]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = [f"{label} number {i}" for i, label in enumerate(labels)]
    return emb, texts, labels


def test_training_is_reproducible_and_weights_round_trip(tmp_path: Path) -> None:
    emb, texts, labels = _toy()
    cfg = TrainConfig(seed=3, epochs=5, batch=16)
    a, b = train(emb, hashed(texts), labels, cfg), train(emb, hashed(texts), labels, cfg)
    assert np.array_equal(a.w_emb, b.w_emb) and a.threshold == b.threshold
    a.save(tmp_path / "w.npz")
    loaded = IntentModel.load(tmp_path / "w.npz")
    assert loaded.labels == a.labels and loaded.provenance["seed"] == 3
    assert [p for p, _ in loaded.predict(emb[:20], hashed(texts[:20]))] == \
        [p for p, _ in a.predict(emb[:20], hashed(texts[:20]))]
    top = [a.labels[i] for i in np.argmax(a.logits(emb, hashed(texts)), axis=1)]
    assert np.mean([p == y for p, y in zip(top, labels, strict=True)]) > 0.9


def test_the_threshold_comes_from_the_calibration_fold() -> None:
    emb, texts, labels = _toy(1)
    model = train(emb, hashed(texts), labels, TrainConfig(seed=1, epochs=5, batch=16))
    assert 0.0 < model.threshold < 1.0 and model.temperature > 0
    calibration = model.provenance["calibration_examples"]
    assert isinstance(calibration, int) and calibration > 0
    assert decide(np.asarray([0.2, 0.3, 0.5]), ["a", "b", "c"], 0.6) == (OOS, 0.5)
    assert decide(np.asarray([0.1, 0.1, 0.8]), ["a", "b", "c"], 0.6)[0] == "c"


def test_ngrams_are_stable_and_survive_odd_text() -> None:
    assert ngrams("Hello") == ngrams("hello")
    for odd in ("", "😀😀", "\x00\x07", "a" * 4000, "我想 return 这个 lamp"):
        rows = hashed([odd])
        assert len(rows) == 1 and len(rows.indices) >= 1


@pytest.mark.parametrize(("text", "amount"), [
    ("我要提八千美元", 8000), ("提现两万", 20000), ("从钱包转一万块到我银行卡", 10000),
    ("提现六千五百元", 6500), ("withdraw eight thousand dollars", 8000), ("send 12k from the wallet", 12000),
    ("cash out 6,500 bucks", 6500),
    ("move twenty thousand from my wallet", 20000), ("withdraw $8,000", 8000), ("1.5万元", 15000),
    ("My blender broke after three months.", None), ("用了三个月", None), ("order MLH-123456", None),
])
def test_amounts_as_callers_say_them(text: str, amount: float | None) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize(("text", "answer"), [
    ("yes", True), ("no", False), ("好的", True), ("不是", False), ("yes please", True),
    ("ok, and how do I start the return?", None), ("yes thanks, and can i return a gift card too", None),
    ("好的，那退货运费谁出", None),
])
def test_ok_followed_by_a_question_is_a_question(text: str, answer: bool | None) -> None:
    assert yes_no(text) is answer


class _FakeEmbedder:
    """Deterministic vectors from the text's crc32: no model needed to test the plumbing."""

    name = "fake"
    dimensions = 32

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=32) for t in texts]
        out = np.asarray(rows, np.float32).reshape(len(texts), 32)
        return np.asarray(out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9), np.float32)

    def close(self) -> None:
        pass


def test_weights_are_trained_when_missing_stale_or_damaged(tmp_path: Path) -> None:
    from gateway.core.nlu.understand import CatalogUnderstanding, load_understanding

    catalog, weights = tmp_path / "intents.yaml", tmp_path / "w.npz"
    catalog.write_text(GOOD, "utf-8")
    first = load_understanding(catalog, _FakeEmbedder(), weights)
    assert isinstance(first, CatalogUnderstanding) and weights.is_file()
    sha = first.model.provenance["catalog_sha256"]
    again = load_understanding(catalog, _FakeEmbedder(), weights)
    assert isinstance(again, CatalogUnderstanding) and again.model.provenance["catalog_sha256"] == sha
    catalog.write_text(GOOD.replace('"refund please"', '"refund please", "give me my money"'), "utf-8")
    changed = load_understanding(catalog, _FakeEmbedder(), weights)
    assert isinstance(changed, CatalogUnderstanding) and changed.model.provenance["catalog_sha256"] != sha
    older = changed.model
    older.provenance["features"] = "made by an older version"
    older.save(weights)
    refreshed = load_understanding(catalog, _FakeEmbedder(), weights)
    assert isinstance(refreshed, CatalogUnderstanding) and refreshed.model.provenance["features"] == FEATURES
    weights.write_bytes(b"not a zip file")
    repaired = load_understanding(catalog, _FakeEmbedder(), weights)
    assert isinstance(repaired, CatalogUnderstanding)
    for odd in ("", "😀", "\x00\x01", "x" * 4000):
        reading = repaired.read(odd, "en")
        assert reading.intent in (*repaired.model.labels, OOS)


def test_weights_that_cannot_be_written_leave_a_working_model(tmp_path: Path) -> None:
    """A read-only or wrong weights path (a container's working folder) warns; the model still serves."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the weights' folder should be")
    model = train_catalog(default_catalog_path(), _FakeEmbedder(), blocker / "intents.npz")
    assert model.labels and not (blocker / "intents.npz").exists()


def test_knn_evidence_is_chosen_on_the_fold_and_round_trips(tmp_path: Path) -> None:
    """kNN evidence: k and its weight come from the calibration fold; the bank is saved with the weights."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)).astype(np.float32)
    y = [f"c{i % 3}" for i in range(300)]
    emb = (centres[[i % 3 for i in range(300)]] + rng.normal(scale=1.2, size=(300, 16))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = [f"t{i}" for i in range(300)]
    model = train(emb, hashed(texts), y, TrainConfig(seed=3, epochs=5))
    tried = model.provenance["fold_accuracy_by_knn"]
    assert isinstance(tried, dict) and tried  # the grid was tried on the fold
    if model.knn_beta:
        assert model.bank is not None and model.knn_k in (1, 3, 5)
    model.save(tmp_path / "m.npz")
    again = IntentModel.load(tmp_path / "m.npz")
    assert (again.knn_k, again.knn_beta) == (model.knn_k, model.knn_beta)
    assert np.allclose(again.logits(emb[:5], hashed(texts[:5])), model.logits(emb[:5], hashed(texts[:5])),
                       atol=1e-2)


def test_out_of_scope_score_adds_the_nearest_neighbour_when_the_fold_prefers_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16)).astype(np.float32)
    inside = centres[[i % 3 for i in range(300)]] + rng.normal(scale=0.6, size=(300, 16))
    outside = rng.normal(scale=1.0, size=(90, 16))  # out of scope: nowhere near the intents
    emb = np.concatenate([inside, outside]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    y = [f"c{i % 3}" for i in range(300)] + [OOS] * 90
    texts = [f"t{i}" for i in range(390)]
    model = train(emb, hashed(texts), y, TrainConfig(seed=3, epochs=5))
    tried = model.provenance["fold_in_scope_by_oos_nn_weight"]
    assert isinstance(tried, dict) and set(tried) == {"0", "0.25", "0.5", "1", "2"}
    probs = model.proba(emb[:4], hashed(texts[:4]))
    # With a weight, the score is the top probability plus weight x the nearest in-scope cosine.
    model.bank, model.bank_y = emb[:300], np.asarray([i % 3 for i in range(300)], np.int64)
    model.oos_nn_weight = 0.5
    near = (emb[:4] @ emb[:300].T).max(axis=1)
    assert np.allclose(model.scores(emb[:4], probs), probs.max(axis=1) + 0.5 * near, atol=1e-5)
    model.save(tmp_path / "m.npz")
    again = IntentModel.load(tmp_path / "m.npz")
    assert again.oos_nn_weight == model.oos_nn_weight and again.threshold == model.threshold


def test_after_calibration_the_weights_learn_every_example_fold_included() -> None:
    """refit: the fold chooses, then the model trains again on all examples. An intent whose fold
    examples say something its other examples do not (here: only the fold knows the word "zebra")
    is learned from them; and the linear part learns without the kNN evidence (with every example
    in the bank, each one's own neighbour would answer for it and the weights would learn nothing)."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(3, 16)).astype(np.float32)
    y = [f"c{i % 3}" for i in range(300)]
    emb = (centres[[i % 3 for i in range(300)]] + rng.normal(scale=1.2, size=(300, 16))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cfg = TrainConfig(seed=3, epochs=5, knn_betas=(40.0,))
    _, held = _fold(y, cfg.calibration_share, cfg.seed, cfg.oos_calibration_share)
    texts = [f"zebra {i}" if i in set(held.tolist()) and y[i] == "c0" else f"t{i}" for i in range(300)]
    probe = hashed(["zebra"])
    blank = np.zeros((1, 16), np.float32)  # no embedding: only the n-grams speak
    for refit, learned in ((True, True), (False, False)):
        model = train(emb, hashed(texts), y, dataclasses.replace(cfg, refit=refit))
        assert model.provenance["refit_on_all"] is refit
        model.knn_beta = 0.0
        says = model.labels[int(np.argmax(model.logits(blank, probe)[0]))]
        assert (says == "c0") is learned, (refit, says)
        linear = np.argmax(model.logits(emb, hashed(texts)), axis=1)
        assert np.mean([model.labels[i] == t for i, t in zip(linear, y, strict=True)]) > 0.6
