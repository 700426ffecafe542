"""A small, fast intent classifier: softmax regression over [sentence embedding, hashed n-grams].

Trained with mini-batch Adam in numpy (lazy updates for the sparse n-gram rows), early-stopped on
a calibration fold carved out of the training data by a seed; the same fold fits a temperature
(calibrated probabilities) and the out-of-scope threshold, so nothing is a hand-set number:

- with out-of-scope examples in the fold: the threshold maximising in-scope accuracy (rejections
  count as errors) + out-of-scope recall;
- without: the highest threshold that rejects at most `target_reject` of the fold's correctly
  classified in-scope examples.

Weights are one .npz (numpy only to load) with the labels, calibration and provenance.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.core.nlu.features import HASH_BITS, SparseRows

F32 = npt.NDArray[np.float32]
OOS = "oos"
# Weights made for other features are retrained at start (load_understanding compares this).
FEATURES = f"use-512 + crc32 n-grams 2^{HASH_BITS} + knn v2"


@dataclass
class TrainConfig:
    seed: int = 7
    epochs: int = 12
    batch: int = 128
    lr: float = 0.01
    l2: float = 1e-6
    calibration_share: float = 0.1
    target_reject: float = 0.02  # without out-of-scope examples: in-scope answers we may reject
    target_oos_recall: float = 0.8  # with them: the share of the fold's out-of-scope examples to reject
    oos_calibration_share: float = 0.3  # out-of-scope examples are few: hold out more of them
    emb_scale: float = 1.0
    # Weights of the embedding block against the n-gram block to try; the calibration fold picks.
    emb_scales: tuple[float, ...] = ()
    patience: int = 4  # epochs without a better fold accuracy before training stops
    # kNN evidence over the training sentences, added to the logits; the fold picks k and weight.
    knn: bool = True
    knn_ks: tuple[int, ...] = (1, 3, 5)
    knn_betas: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 40.0)
    oos_nn_weights: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    # After the fold has chosen everything: train again on all examples (fold included) for the
    # chosen number of epochs, keeping the fold's choices. The fold's examples are not wasted:
    # it holds 30% of the out-of-scope ones, the class with the fewest examples.
    refit: bool = True


@dataclass
class IntentModel:
    labels: list[str]
    w_emb: F32
    w_hash: F32
    bias: F32
    temperature: float = 1.0
    threshold: float = 0.0  # calibrated top probability below which a text is out of scope
    emb_scale: float = 1.0
    hash_bits: int = HASH_BITS
    provenance: dict[str, object] = field(default_factory=dict)
    # Training sentences' embeddings and label indices (kNN evidence); None when not kept.
    bank: F32 | None = None
    bank_y: npt.NDArray[np.int64] | None = None
    knn_k: int = 0  # neighbours averaged per intent
    knn_beta: float = 0.0  # weight of that similarity added to the logits (0 = off)
    # Out-of-scope score = top probability + this x cosine to the nearest in-scope training sentence.
    oos_nn_weight: float = 0.0

    @property
    def oos_index(self) -> int | None:
        return self.labels.index(OOS) if OOS in self.labels else None

    def logits(self, emb: F32, rows: SparseRows) -> F32:
        out = (emb * self.emb_scale) @ self.w_emb + self.bias
        if len(rows.indices):
            contrib = rows.values[:, None] * self.w_hash[rows.indices]
            out = out + np.add.reduceat(contrib, rows.starts[:-1], axis=0)
        if self.knn_beta and self.bank is not None and self.bank_y is not None:
            sim = knn_similarity(emb, self.bank, self.bank_y, len(self.labels), self.knn_k)
            out = out + self.knn_beta * sim
        return out.astype(np.float32)

    def proba(self, emb: F32, rows: SparseRows) -> F32:
        return _softmax(self.logits(emb, rows) / self.temperature)

    def scores(self, emb: F32, probs: F32) -> F32:
        """What the out-of-scope threshold is compared with: the top probability, plus (when the
        fold chose it) the weighted cosine to the nearest in-scope training sentence."""
        top = probs.max(axis=1)
        if not self.oos_nn_weight or self.bank is None or self.bank_y is None:
            return top.astype(np.float32)
        return (top + self.oos_nn_weight * nearest_in_scope(emb, self.bank, self.bank_y, self.oos_index)
                ).astype(np.float32)

    def predict(self, emb: F32, rows: SparseRows) -> list[tuple[str, float]]:
        """(label or "oos", calibrated confidence) per row."""
        probs = self.proba(emb, rows)
        scores = self.scores(emb, probs)
        return [decide(p, self.labels, self.threshold, float(sc))
                for p, sc in zip(probs, scores, strict=True)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: another process starting at the same time never reads half a file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        extra: dict[str, Any] = {}
        if self.bank is not None and self.bank_y is not None:
            extra = {"bank": self.bank.astype(np.float16), "bank_y": self.bank_y.astype(np.int32)}
        np.savez_compressed(
            tmp, **extra, labels=np.asarray(self.labels), w_emb=self.w_emb.astype(np.float16),
            w_hash=self.w_hash.astype(np.float16), bias=self.bias,
            meta=np.asarray(json.dumps({"temperature": self.temperature, "threshold": self.threshold,
                                        "emb_scale": self.emb_scale, "hash_bits": self.hash_bits,
                                        "knn_k": self.knn_k, "knn_beta": self.knn_beta,
                                        "oos_nn_weight": self.oos_nn_weight,
                                        "provenance": self.provenance})))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            bank = data["bank"].astype(np.float32) if "bank" in data.files else None
            bank_y = data["bank_y"].astype(np.int64) if "bank_y" in data.files else None
            return cls([str(x) for x in data["labels"]], data["w_emb"].astype(np.float32),
                       data["w_hash"].astype(np.float32), data["bias"].astype(np.float32),
                       float(meta["temperature"]), float(meta["threshold"]), float(meta["emb_scale"]),
                       int(meta["hash_bits"]), dict(meta["provenance"]), bank, bank_y,
                       int(meta.get("knn_k", 0)), float(meta.get("knn_beta", 0.0)),
                       float(meta.get("oos_nn_weight", 0.0)))


def knn_similarity(emb: F32, bank: F32, bank_y: npt.NDArray[np.int64], classes: int, k: int) -> F32:
    """Per intent: the mean cosine of the k nearest training sentences of that intent (-1 if none).
    The bank is kept sorted by label (train does), so each intent is a contiguous slice, no copies."""
    if len(bank_y) > 1 and bool(np.any(np.diff(bank_y) < 0)):
        bank, bank_y = sort_bank(bank, bank_y)
    sims = _cosines(emb, bank)
    bounds = np.searchsorted(bank_y, np.arange(classes + 1))
    out = np.full((len(emb), classes), -1.0, np.float32)
    present = bounds[:-1] < bounds[1:]
    if k <= 1 and present.any():
        out[:, present] = np.maximum.reduceat(sims, bounds[:-1][present], axis=1)
        return out
    for c in np.flatnonzero(present):
        cols = sims[:, bounds[c]:bounds[c + 1]]
        kk = min(k, cols.shape[1])
        out[:, c] = np.partition(cols, -kk, axis=1)[:, -kk:].mean(axis=1)
    return out


def sort_bank(bank: F32, bank_y: npt.NDArray[np.int64]) -> tuple[F32, npt.NDArray[np.int64]]:
    order = np.argsort(bank_y, kind="stable")
    return bank[order], bank_y[order]


def _cosines(emb: F32, bank: F32) -> F32:
    # One turn against thousands of sentences: OpenBLAS's threaded gemv took 10-20 ms here on the
    # loaded shared cores, einsum's plain loop about 3 ms; batches go to BLAS.
    return np.einsum("ij,kj->ik", emb, bank) if len(emb) <= 8 else emb @ bank.T


def nearest_in_scope(emb: F32, bank: F32, bank_y: npt.NDArray[np.int64], oos: int | None) -> F32:
    sims = _cosines(emb, bank)
    if oos is not None:
        sims[:, bank_y == oos] = -1.0
    return sims.max(axis=1).astype(np.float32) if sims.shape[1] else np.zeros(len(emb), np.float32)


def decide(p: F32, labels: Sequence[str], threshold: float, score: float | None = None) -> tuple[str, float]:
    best = int(np.argmax(p))
    if labels[best] == OOS or (float(p[best]) if score is None else score) < threshold:
        return OOS, float(p[best])
    return labels[best], float(p[best])


def _softmax(z: F32) -> F32:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _fold(labels: Sequence[str], share: float, seed: int, oos_share: float
          ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    by: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by.setdefault(y, []).append(i)
    held: list[int] = []
    for y in sorted(by):
        idx = by[y]
        if len(idx) >= 3:
            part = oos_share if y == OOS else share
            held.extend(int(i) for i in rng.permutation(idx)[:max(1, round(part * len(idx)))])
    mask = np.zeros(len(labels), bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _fit(model: IntentModel, emb: F32, rows: SparseRows, y: npt.NDArray[np.int64], cfg: TrainConfig,
         rng: np.random.Generator, epochs: int, watch: tuple[F32, SparseRows, npt.NDArray[np.int64]] | None
         ) -> int:
    """Adam; returns the best epoch on `watch` (the weights of that epoch are kept)."""
    params = [model.w_emb, model.w_hash, model.bias]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
    best_acc, best_epoch, best = -1.0, 0, [p.copy() for p in params]
    n = len(y)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        for start in range(0, n, cfg.batch):
            batch = order[start:start + cfg.batch]
            e, r = emb[batch], rows.take(batch)
            p = _softmax(model.logits(e, r))
            p[np.arange(len(batch)), y[batch]] -= 1.0
            p /= len(batch)
            step += 1
            lr = cfg.lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            grads_dense = [(e * model.emb_scale).T @ p + cfg.l2 * model.w_emb, p.sum(axis=0)]
            for k, g in zip((0, 2), grads_dense, strict=True):
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                params[k] -= lr * m[k] / (np.sqrt(v[k]) + eps)
            # Sparse rows: only the n-gram buckets present in the batch move (lazy Adam).
            row_of = np.repeat(np.arange(len(batch)), np.diff(r.starts))
            contrib = r.values[:, None] * p[row_of]
            order_i = np.argsort(r.indices, kind="stable")
            sorted_i = r.indices[order_i]
            uniq, first = np.unique(sorted_i, return_index=True)
            g = np.add.reduceat(contrib[order_i], first, axis=0) + cfg.l2 * model.w_hash[uniq]
            m[1][uniq] = b1 * m[1][uniq] + (1 - b1) * g
            v[1][uniq] = b2 * v[1][uniq] + (1 - b2) * g * g
            model.w_hash[uniq] -= lr * m[1][uniq] / (np.sqrt(v[1][uniq]) + eps)
        if watch is not None:
            acc = float(np.mean(np.argmax(model.logits(watch[0], watch[1]), axis=1) == watch[2]))
            if acc > best_acc:
                best_acc, best_epoch, best = acc, epoch, [q.copy() for q in params]
            elif epoch - best_epoch >= cfg.patience:
                break  # the fold stopped improving: the rest of the epochs would be wasted time
    if watch is not None:
        model.w_emb, model.w_hash, model.bias = best
    return best_epoch if watch is not None else epochs


def _temperature(logits: F32, y: npt.NDArray[np.int64]) -> float:
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(10.0), 60)):
        p = _softmax(logits / t)
        nll = float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _threshold(probs: F32, y: npt.NDArray[np.int64], labels: Sequence[str], cfg: TrainConfig,
               top: F32 | None = None) -> tuple[float, tuple[float, float]]:
    """With out-of-scope examples in the fold: the threshold with the best in-scope accuracy among
    those rejecting at least target_oos_recall of them. Without: reject at most target_reject of
    the correctly classified in-scope examples. Returns (threshold, (enough, accuracy or recall))."""
    oos = labels.index(OOS) if OOS in labels else -1
    top = probs.max(axis=1) if top is None else top
    pred = probs.argmax(axis=1)
    is_oos = y == oos
    if is_oos.any() and (~is_oos).any():
        best_t, best = 0.0, (-1.0, -1.0)
        for t in np.unique(np.round(top, 3)):
            rejected = (top < t) | (pred == oos)
            in_acc = float(np.mean((pred == y)[~is_oos] & ~rejected[~is_oos]))
            recall = float(np.mean(rejected[is_oos]))
            enough = recall >= cfg.target_oos_recall
            key = (float(enough), in_acc if enough else recall)
            if key > best:
                best_t, best = float(t), key
        return best_t, best
    right = top[(pred == y) & ~is_oos]
    return (float(np.quantile(right, cfg.target_reject)) if len(right) else 0.0), (0.0, 0.0)


def train(emb: F32, rows: SparseRows, labels: Sequence[str], cfg: TrainConfig | None = None,
          provenance: dict[str, object] | None = None) -> IntentModel:
    """Train, early-stop, calibrate. Deterministic for a seed (numpy's default_rng).

    With cfg.emb_scales, one model per scale; the one most accurate on the calibration fold wins.
    """
    cfg = cfg or TrainConfig()
    names = sorted(set(labels))
    y = np.asarray([names.index(label) for label in labels], np.int64)
    fit_idx, cal_idx = _fold(labels, cfg.calibration_share, cfg.seed, cfg.oos_calibration_share)
    watch = (emb[cal_idx], rows.take(cal_idx), y[cal_idx]) if len(cal_idx) else None
    fit = (emb[fit_idx], rows.take(fit_idx), y[fit_idx])
    best: tuple[float, IntentModel, int] | None = None
    tried: dict[str, float] = {}
    for scale in cfg.emb_scales or (cfg.emb_scale,):
        c = len(names)
        model = IntentModel(names, np.zeros((emb.shape[1], c), np.float32),
                            np.zeros((1 << HASH_BITS, c), np.float32), np.zeros(c, np.float32),
                            emb_scale=scale)
        epoch = _fit(model, *fit, cfg, np.random.default_rng(cfg.seed), cfg.epochs, watch)
        acc = 0.0
        if watch is not None:
            acc = float(np.mean(np.argmax(model.logits(watch[0], watch[1]), axis=1) == watch[2]))
        tried[f"{scale:g}"] = round(acc, 4)
        if best is None or acc > best[0]:
            best = (acc, model, epoch)
    assert best is not None
    _, model, best_epoch = best
    knn_tried: dict[str, float] = {}
    if watch is not None and cfg.knn:
        # kNN evidence: the training sentences (fit part) as a bank; k and its weight chosen on the fold.
        model.bank, model.bank_y = sort_bank(fit[0], fit[2])
        base = model.logits(watch[0], watch[1])
        sims = {k: knn_similarity(watch[0], model.bank, model.bank_y, len(names), k) for k in cfg.knn_ks}
        choice = (float(np.mean(np.argmax(base, axis=1) == watch[2])), 0.0, 0)
        for k, sim in sims.items():
            for beta in cfg.knn_betas:
                acc = float(np.mean(np.argmax(base + beta * sim, axis=1) == watch[2]))
                knn_tried[f"k{k}:b{beta:g}"] = round(acc, 4)
                if acc > choice[0] + 1e-9:
                    choice = (acc, beta, k)
        model.knn_beta, model.knn_k = choice[1], choice[2]
    oos_tried: dict[str, float] = {}
    if watch is not None:
        logits = model.logits(watch[0], watch[1])
        model.temperature = _temperature(logits, watch[2])
        probs = _softmax(logits / model.temperature)
        model.threshold, key = _threshold(probs, watch[2], names, cfg)
        if OOS in names and bool(np.any(watch[2] == names.index(OOS))) and cfg.knn:
            # Out-of-scope evidence from the neighbours too: the fold picks the weight (first best).
            model.bank, model.bank_y = sort_bank(fit[0], fit[2])
            near = nearest_in_scope(watch[0], model.bank, model.bank_y, names.index(OOS))
            oos_tried["0"] = round(key[1], 4)
            for weight in cfg.oos_nn_weights:
                thr, k2 = _threshold(probs, watch[2], names, cfg, probs.max(axis=1) + weight * near)
                oos_tried[f"{weight:g}"] = round(k2[1], 4)
                if k2 > key:
                    key, model.threshold, model.oos_nn_weight = k2, thr, weight
    if cfg.refit and watch is not None:
        _refit(model, emb, rows, y, cfg, best_epoch)
    if not model.knn_beta and not model.oos_nn_weight:
        model.bank = model.bank_y = None
    model.provenance = {**(provenance or {}), "seed": cfg.seed, "best_epoch": best_epoch,
                        "examples": len(labels), "calibration_examples": len(cal_idx),
                        "fold_accuracy_by_emb_scale": tried, "fold_accuracy_by_knn": knn_tried,
                        "fold_in_scope_by_oos_nn_weight": oos_tried, "refit_on_all": cfg.refit,
                        "features": FEATURES}
    return model


def _refit(model: IntentModel, emb: F32, rows: SparseRows, y: npt.NDArray[np.int64], cfg: TrainConfig,
           epochs: int) -> None:
    """Weights trained again from zero on every example for `epochs`; the calibration (temperature,
    threshold, kNN and out-of-scope weights) stays the fold's, and the kNN bank holds every example."""
    model.w_emb = np.zeros_like(model.w_emb)
    model.w_hash = np.zeros_like(model.w_hash)
    model.bias = np.zeros_like(model.bias)
    # The linear part learns without the kNN evidence, as in the first fit: with every example in
    # the bank, each one's own neighbour (cosine 1) would answer for it and the weights learn nothing.
    beta, model.knn_beta = model.knn_beta, 0.0
    _fit(model, emb, rows, y, cfg, np.random.default_rng(cfg.seed), max(1, epochs), None)
    model.knn_beta = beta
    if model.bank is not None:
        model.bank, model.bank_y = sort_bank(emb.astype(np.float32), y)
