"""Reproducible training of the sign classifier (seeded; numpy only; a minute or two on one core).

Data: synthetic hands for every class (modalities.sign.synth) plus, when present, the real
landmarks from ../shared/realdata/hands, each real sample copied with rigid augmentation (3D
rotation, mirroring, aspect, jitter). `holdout` names real sources left out, so the evaluation
can score a model that never saw them (hold-out by signer/source).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from modalities.sign import synth
from modalities.sign import vocabulary as vocab
from modalities.sign.features import FEATURE_DIM, features
from modalities.sign.handmodel import random_rotation
from modalities.sign.realdata import RealSample

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    per_class: int = 900
    real_copies: int = 40
    hidden: tuple[int, ...] = (256, 128)
    epochs: int = 30
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05


def augment_real(hands: Sequence[F64], rng: np.random.Generator) -> list[F64]:
    """A rigid variant of real hands: rotation about the first wrist, mirror, aspect, jitter."""
    rot = random_rotation(rng, 12.0)
    mirror = rng.random() < 0.5
    aspect = float(np.exp(rng.normal(0.0, 0.1)))
    pivot = hands[0][0].copy()
    out = []
    for h in hands:
        size = float(np.linalg.norm(h[9, :2] - h[0, :2])) + 1e-6
        p = (h - pivot) @ rot.T
        if mirror:
            p[:, 0] = -p[:, 0]
        p[:, 0] *= aspect
        p += rng.normal(0.0, 0.02 * size, size=p.shape)
        out.append(p + pivot)
    return out


def build(
    real: Sequence[RealSample], cfg: TrainConfig, labels: tuple[str, ...]
) -> tuple[F32, npt.NDArray[np.int64]]:
    rng = np.random.default_rng(cfg.seed + 1)
    xs, ys = synth.dataset(cfg.per_class, cfg.seed, labels)
    rows = [features(h) for h in xs]
    targets = [labels.index(y) for y in ys]
    for sample in real:
        if sample.label is None or not sample.hands or sample.label not in labels:
            continue
        rows.append(features(list(sample.hands)))
        targets.append(labels.index(sample.label))
        for _ in range(cfg.real_copies):
            rows.append(features(augment_real(sample.hands, rng)))
            targets.append(labels.index(sample.label))
    return np.stack(rows).astype(np.float32), np.asarray(targets, dtype=np.int64)


def fit(
    x: F32, y: npt.NDArray[np.int64], n_classes: int, cfg: TrainConfig
) -> dict[str, npt.NDArray[np.float32]]:
    """Adam on softmax cross-entropy with label smoothing and weight decay."""
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
    for epoch in range(cfg.epochs):
        lr = cfg.lr * 0.5 * (1 + np.cos(np.pi * epoch / cfg.epochs))
        order = rng.permutation(len(xn))
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


def train(
    real: Sequence[RealSample], cfg: TrainConfig, out: Path, holdout: Sequence[str] = ()
) -> dict[str, object]:
    """Train, write `out` (.npz) and its provenance (.json); returns the provenance."""
    labels = vocab.LABELS
    kept = [s for s in real if s.source not in holdout]
    started = time.perf_counter()
    x, y = build(kept, cfg, labels)
    weights = fit(x, y, len(labels), cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "labels": np.asarray(labels),
        "depth": np.asarray(len(cfg.hidden) + 1),
        **weights,
    }
    np.savez_compressed(out, **arrays)
    provenance: dict[str, object] = {
        "model": "sign MLP " + "-".join(str(n) for n in (FEATURE_DIM, *cfg.hidden, len(labels))),
        "config": cfg.__dict__ | {"hidden": list(cfg.hidden)},
        "labels": list(labels),
        "synthetic_per_class": cfg.per_class,
        "real_sources": sorted({s.source for s in kept}),
        "real_samples": sum(1 for s in kept if s.label and s.hands),
        "held_out_sources": list(holdout),
        "training_rows": len(y),
        "train_seconds": round(time.perf_counter() - started, 1),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "licences": {
            "synthetic": "project-made (hand model in modalities/sign/handmodel.py)",
            "borisgraudt": "MIT (borisgraudt/asl-ai), dataset badge CC0",
            "mediapipe-photos": "Apache-2.0 (google-ai-edge/mediapipe model_maker testdata)",
        },
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    return provenance
