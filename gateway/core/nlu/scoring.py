"""`gateway eval intents`: train on a benchmark's training part, report on data never trained on.

In-scope accuracy counts a rejected in-scope utterance as wrong; out-of-scope recall is the share
of `oos` utterances rejected. Time per utterance is in-process (features + classifier, with the
sentence embedding measured on a sample of uncached calls), on this shared machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.core.nlu.benchmarks import OOS, Benchmark
from gateway.core.nlu.classifier import IntentModel, TrainConfig, train
from gateway.core.nlu.features import EmbeddingCache, hashed
from models.base import Embedder


@dataclass(frozen=True)
class IntentScore:
    name: str
    split: str
    train_examples: int
    report_examples: int
    in_scope_accuracy: float  # rejections count as errors
    in_scope_accuracy_no_reject: float  # top label only (closed-set accuracy)
    oos_recall: float | None  # None: the report set has no out-of-scope utterances
    oos_examples: int
    ms_per_utterance: float  # embedding + features + classifier, in-process
    train_seconds: float
    model: IntentModel
    ms_p50: float = 0.0  # median of the same timed utterances


def score_benchmark(bench: Benchmark, embedder: Embedder, cache_dir: Path | None, seed: int = 7,
                    say: Callable[[str], None] = print, timing_sample: int = 50) -> IntentScore:
    cache = EmbeddingCache(cache_dir, embedder)
    texts, labels = [t for t, _ in bench.train], [y for _, y in bench.train]
    say(f"{bench.name}: embedding {len(texts)} training utterances (cached under {cache_dir})")
    emb = cache.embed(texts, progress=True)
    started = time.perf_counter()
    model = train(emb, hashed(texts), labels, TrainConfig(seed=seed, epochs=20),
                  provenance={"dataset": bench.name, "split": bench.split})
    train_s = time.perf_counter() - started
    rtexts, rlabels = [t for t, _ in bench.report], [y for _, y in bench.report]
    say(f"{bench.name}: embedding {len(rtexts)} report utterances")
    remb = cache.embed(rtexts, progress=True)
    predicted = model.predict(remb, hashed(rtexts))
    top = np.argmax(model.logits(remb, hashed(rtexts)), axis=1)
    gold = np.asarray(rlabels)
    pred = np.asarray([p for p, _ in predicted])
    is_oos = gold == OOS
    closed = np.asarray([model.labels[i] for i in top]) == gold
    # Timing: a fresh embedding (no cache) plus features and the classifier, one utterance at a time.
    sample = rtexts[:timing_sample]
    embedder.embed(["warm up"])  # the model loads on first use; that is start-up, not per utterance
    times = []
    for text in sample:
        t0 = time.perf_counter()
        model.predict(embedder.embed([text]), hashed([text]))
        times.append(1000 * (time.perf_counter() - t0))
    ms = float(np.mean(times)) if times else 0.0
    p50 = float(np.median(times)) if times else 0.0  # the shared machine's load spikes move the mean
    return IntentScore(
        bench.name, bench.split, len(texts), len(rtexts),
        float(np.mean(pred[~is_oos] == gold[~is_oos])) if (~is_oos).any() else float("nan"),
        float(np.mean(closed[~is_oos])) if (~is_oos).any() else float("nan"),
        float(np.mean(pred[is_oos] == OOS)) if is_oos.any() else None, int(is_oos.sum()), ms, train_s, model,
        p50)
