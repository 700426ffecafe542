"""Reproducible training of both sign models (seeded; numpy only; about a minute each on one core).

The rows come from modalities.sign.dataset (real signers + synthesis, augmented). `fit` is Adam on
softmax cross-entropy for a small MLP; classes are sampled in inverse proportion to the square
root of their size, so a word one signer recorded 80 times is not drowned by held letters.
With `members` > 1 it fits that many MLPs (seeds seed, seed+1, ...) on the same rows and stacks
their weights (w0 is (members, in, out)); `predict` averages their probabilities.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.sign_classifier import mlp_probabilities

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    hidden: tuple[int, ...] = (256, 128)
    epochs: int = 20
    batch: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    members: int = 1  # an ensemble of this many MLPs (seeds seed, seed+1, ...), probabilities averaged


# Fold sizes: the models the leave-one-signer-out evaluation (loso.py) and the J/Z calibration
# readings (calibrate.py) train, smaller and shorter-trained than the shipped ones so that every
# fold fits in minutes on 2 shared cores; the figures are for this configuration, not the shipped
# one. The handshape model is an ensemble of 3 (as shipped; third round, docs/sign.md).
FOLD_STATIC_CFG = TrainConfig(hidden=(128, 64), epochs=8, members=3)
FOLD_SEQ_CFG = TrainConfig(hidden=(64,), epochs=8)
FOLD_MOTION_CFG = TrainConfig(hidden=(64,), epochs=8)  # the motion-letter model (J, Z)


def fit(
    x: F32, y: npt.NDArray[np.int64], n_classes: int, cfg: TrainConfig
) -> dict[str, npt.NDArray[np.float32]]:
    """Adam on softmax cross-entropy with label smoothing and weight decay (an ensemble of
    `cfg.members` of them, weights stacked along a first axis, when members > 1)."""
    if cfg.members > 1:
        fits = [fit(x, y, n_classes, replace(cfg, seed=cfg.seed + k, members=1)) for k in range(cfg.members)]
        stacked = {k: np.stack([f[k] for f in fits]) for k in fits[0] if k not in ("mean", "std")}
        return {"mean": fits[0]["mean"], "std": fits[0]["std"], **stacked}
    rng = np.random.default_rng(cfg.seed + 2)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    xn = (x - mean) / std
    sizes = [x.shape[1], *cfg.hidden, n_classes]
    params: list[F32] = []
    for a, b in itertools.pairwise(sizes):
        params += [(rng.normal(0, np.sqrt(2.0 / a), (a, b))).astype(np.float32), np.zeros(b, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    smooth = np.full((1, n_classes), cfg.label_smoothing / n_classes, np.float32)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weight = 1.0 / np.sqrt(np.maximum(counts[y], 1.0))
    weight /= weight.sum()
    for epoch in range(cfg.epochs):
        lr = cfg.lr * 0.5 * (1 + np.cos(np.pi * epoch / cfg.epochs))
        order = rng.choice(len(xn), size=len(xn), p=weight)
        for start in range(0, len(order), cfg.batch):
            idx = order[start : start + cfg.batch]
            acts = [xn[idx]]
            for i in range(0, len(params), 2):
                h = acts[-1] @ params[i] + params[i + 1]
                acts.append(np.maximum(h, 0.0) if i < len(params) - 2 else h)
            logits = acts[-1]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            target = smooth + np.eye(n_classes, dtype=np.float32)[y[idx]] * (1 - cfg.label_smoothing)
            grad = (p - target) / len(idx)
            grads: list[F32] = [np.empty(0, np.float32)] * len(params)
            for i in range(len(params) - 2, -1, -2):
                grads[i] = acts[i // 2].T @ grad + cfg.weight_decay * params[i]
                grads[i + 1] = grad.sum(axis=0)
                if i:
                    grad = (grad @ params[i].T) * (acts[i // 2] > 0)
            step += 1
            for k, g in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mhat = m[k] / (1 - 0.9**step)
                vhat = v[k] / (1 - 0.999**step)
                params[k] -= (lr * mhat / (np.sqrt(vhat) + 1e-8)).astype(np.float32)
    out = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    for i in range(0, len(params), 2):
        out[f"w{i // 2}"], out[f"b{i // 2}"] = params[i], params[i + 1]
    return out


def predict(weights: dict[str, npt.NDArray[np.float32]], x: F32) -> F32:
    """Class probabilities of a `fit` MLP, an ensemble's averaged: the run-time computation."""
    depth = sum(1 for k in weights if k.startswith("w"))
    layers = [(weights[f"w{i}"], weights[f"b{i}"]) for i in range(depth)]
    return mlp_probabilities(weights["mean"], weights["std"], layers, x)


def save(
    weights: dict[str, npt.NDArray[np.float32]],
    labels: Sequence[str],
    cfg: TrainConfig,
    out: Path,
    info: dict[str, object],
    extra: dict[str, npt.NDArray[Any]] | None = None,
) -> dict[str, object]:
    """Write `out` (.npz, plus any `extra` arrays) and its provenance (.json beside it); returns
    the provenance."""
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "labels": np.asarray(list(labels)),
        "depth": np.asarray(len(cfg.hidden) + 1),
        **weights,
        **(extra or {}),
    }
    np.savez_compressed(out, **arrays)
    sizes = [weights["w0"].shape[-2], *cfg.hidden, len(labels)]
    members = f" x{cfg.members} (ensemble, probabilities averaged)" if cfg.members > 1 else ""
    provenance: dict[str, object] = {
        "model": "MLP " + "-".join(str(n) for n in sizes) + members,
        "config": cfg.__dict__ | {"hidden": list(cfg.hidden)},
        "labels": list(labels),
        **info,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    return provenance


def timed_fit(
    x: F32, y: npt.NDArray[np.int64], n_classes: int, cfg: TrainConfig
) -> tuple[dict[str, npt.NDArray[np.float32]], float]:
    started = time.perf_counter()
    weights = fit(x, y, n_classes, cfg)
    return weights, round(time.perf_counter() - started, 1)
