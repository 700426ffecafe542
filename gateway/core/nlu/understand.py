"""The one interface the conversation uses to understand a turn: `Understanding.read()`.

`CatalogUnderstanding` embeds the turn once (the vector is reused by retrieval), classifies it
against the tenant's intent catalog with the calibrated classifier, and flags emergencies by
meaning (the classifier's recall-first emergency threshold) on top of the phrase-list floor.
To swap the classifier, implement `Understanding` and hand it to CoreServices (build.py).
"""

from __future__ import annotations

import logging
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.core.nlu.catalog import CATALOG_NAME, Catalog, Intent, default_catalog_path, load_catalog
from gateway.core.nlu.classifier import FEATURES, OOS, IntentModel, TrainConfig, sort_bank, train
from gateway.core.nlu.features import hashed, normalise
from gateway.core.nlu.llm_pick import LlmPicker
from gateway.core.policies.emergency import detect_emergency
from models.base import Embedder

log = logging.getLogger("gateway.core")
EMERGENCY = "emergency"
EMERGENCY_MARGIN = "emergency_knn_margin"
MAX_CHARS = 500  # the classifier reads the start of a long turn
MAX_CLAUSES = 4
_CLAUSE = re.compile(r"[.?!;。？！；]+")


@dataclass(frozen=True)
class Reading:
    intent: str  # a catalog intent name, or "oos"
    confidence: float  # calibrated probability of that intent
    route: Intent | None  # None when out of scope or no catalog
    emergency: str | None = None  # the phrase or "meaning" when the turn is an emergency
    vector: npt.NDArray[np.float32] | None = None  # the turn's sentence embedding (for retrieval)
    by: str = "classifier"  # "llm" when the classifier was unsure and the LLM picked (llm_pick.py)

    @property
    def reports(self) -> str:
        return self.route.reports if self.route is not None else "other"


class Understanding(Protocol):
    def read(self, text: str, language: str) -> Reading:
        """Blocking (runs in a worker thread); never raises on odd text."""
        ...

    def catalog_intent(self, name: str) -> Intent | None:
        """The catalog entry of an intent name (None when unknown)."""
        ...


class PhraseUnderstanding:
    """No classifier (embeddings off): the phrase lists alone."""

    def read(self, text: str, language: str) -> Reading:
        match = detect_emergency(text)
        return Reading(OOS, 0.0, None, match.phrase if match else None)

    def catalog_intent(self, name: str) -> Intent | None:
        return None


class CatalogUnderstanding:
    def __init__(self, catalog: Catalog, model: IntentModel, embedder: Embedder) -> None:
        self.catalog, self.model, self.embedder = catalog, model, embedder
        self.picker: LlmPicker | None = None  # set by build_core with an OpenAI-compatible backend
        self._emergency = model.labels.index(EMERGENCY) if EMERGENCY in model.labels else None
        alerts = model.provenance.get("alert_thresholds") or {}
        alerts = alerts if isinstance(alerts, dict) else {}
        self._emergency_threshold = float(alerts.get(EMERGENCY, 0.5))
        self._emergency_margin = float(alerts.get(EMERGENCY_MARGIN, -1.0))

    def catalog_intent(self, name: str) -> Intent | None:
        return self.catalog.get(name)

    def read(self, text: str, language: str) -> Reading:
        floor = detect_emergency(text)
        clean = normalise(text)[:MAX_CHARS]
        if not clean:
            return Reading(OOS, 0.0, None, floor.phrase if floor else None)
        # The whole turn and, when it has several, each clause: "Where is my order? Oh no, the
        # charger is smoking" is an emergency in its second clause. One embedding call.
        clauses = [c for c in (x.strip() for x in _CLAUSE.split(clean)) if len(c) >= 2][:MAX_CLAUSES]
        texts = [clean] + (clauses if len(clauses) > 1 else [])
        vectors = self.embedder.embed(texts)
        probs = self.model.proba(vectors, hashed(texts))
        best = int(np.argmax(probs[0]))
        name, confidence = self.model.labels[best], float(probs[0][best])
        unsure = float(self.model.scores(vectors[:1], probs[:1])[0]) < self.model.threshold
        if name != OOS and unsure:
            name = OOS
        emergency = floor.phrase if floor else None
        if emergency is None and self._emergency is not None:
            # By meaning: the classifier's emergency probability AND the sentence's neighbours:
            # it must sit at least as near the emergency examples as the catalog's least typical
            # emergency does ("is bitcoin going up" scored 0.8 on n-grams, its neighbours are oos).
            likely = (probs[:, self._emergency] >= self._emergency_threshold) & (
                np.argmax(probs, axis=1) == self._emergency)  # emergency is what the text most likely is
            near = emergency_margin(self.model, vectors, self._emergency) >= self._emergency_margin
            if bool(np.any(likely & near)):
                emergency = "meaning"
        route = None if name == OOS else self.catalog.get(name)
        if emergency is None and self.picker is not None and unsure:
            picked = self._pick(text, probs[0], vectors[0])
            return picked or Reading(name, confidence, route, None, vectors[0])
        return Reading(name, confidence, route, emergency, vectors[0])

    def _pick(self, text: str, probs: npt.NDArray[np.float32], vector: npt.NDArray[np.float32]
              ) -> Reading | None:
        """The classifier is unsure: the LLM picks among its top-k intents (never emergency or
        oos, which are decided without it), or none. None: no usable answer, the reading stands."""
        assert self.picker is not None
        order = [int(i) for i in np.argsort(-probs)]
        names = [self.model.labels[i] for i in order if self.model.labels[i] not in (OOS, EMERGENCY)]
        candidates = [i for n in names[:self.picker.top_k] if (i := self.catalog.get(n)) is not None]
        chosen = self.picker.pick(text, candidates)
        if chosen is False:
            return None
        if chosen is None or not isinstance(chosen, Intent):
            return Reading(OOS, float(probs.max()), None, None, vector, by="llm")
        p = float(probs[self.model.labels.index(chosen.name)])
        return Reading(chosen.name, p, chosen, None, vector, by="llm")


def catalog_path_for(kb_folder: Path, settings: object = None) -> Path:
    """The catalog beside a knowledge base, else the bundled default (the nine built-in intents)."""
    configured = getattr(settings, "intent_catalog", "") if settings is not None else ""
    if configured:
        return Path(configured)
    beside = kb_folder / CATALOG_NAME if kb_folder.is_dir() else kb_folder.parent / CATALOG_NAME
    return beside if beside.is_file() else default_catalog_path()


def emergency_margin(model: IntentModel, vectors: npt.NDArray[np.float32], index: int
                     ) -> npt.NDArray[np.float32]:
    """Per row: cosine to the nearest emergency example minus cosine to the nearest other example
    (+inf without a bank of examples: the gate is then open)."""
    if model.bank is None or model.bank_y is None:
        return np.full(len(vectors), np.inf, np.float32)
    sims = vectors @ model.bank.T
    is_em = model.bank_y == index
    if not is_em.any() or is_em.all():
        return np.full(len(vectors), np.inf, np.float32)
    return (sims[:, is_em].max(axis=1) - sims[:, ~is_em].max(axis=1)).astype(np.float32)


def _loo_margin(emb: npt.NDArray[np.float32], labels: list[str]) -> float:
    """Leave-one-out on the catalog: the lowest margin any emergency example has when it is not
    its own neighbour. Recall first: every catalog emergency passes the gate."""
    y = np.asarray(labels) == EMERGENCY
    if y.sum() < 2 or y.all():
        return -1.0
    sims = emb[y] @ emb.T
    sims[np.arange(int(y.sum())), np.flatnonzero(y)] = -np.inf
    return float((sims[:, y].max(axis=1) - sims[:, ~y].max(axis=1)).min()) - 1e-3


def _alert_thresholds(model: IntentModel, emb: npt.NDArray[np.float32], texts: list[str],
                      labels: list[str]) -> dict[str, float]:
    """Recall first: the emergency threshold is the lowest emergency probability the classifier
    gives any emergency example when it is held out (k-fold), so every one of them is flagged."""
    if EMERGENCY not in model.labels:
        return {}
    idx = model.labels.index(EMERGENCY)
    probs = model.proba(emb, hashed(texts))[:, idx]
    y = np.asarray(labels) == EMERGENCY
    # In-sample probabilities are optimistic: take half the lowest one, floored by the worst
    # non-emergency example so ordinary requests are not flagged.
    low = float(probs[y].min()) / 2
    others = np.sort(probs[~y])
    ceiling = float(others[-max(1, len(others) // 100)]) if len(others) else 0.0
    return {EMERGENCY: max(min(low, 0.5), ceiling + 1e-3) if ceiling < low else low}


def train_catalog(path: Path, embedder: Embedder, out: Path, seed: int = 7) -> IntentModel:
    catalog = load_catalog(path)
    texts, labels = catalog.examples()
    clean = [normalise(t) for t in texts]
    emb = embedder.embed(clean)
    # No refit here: a catalog's fold is two examples per intent, and training again on it moved
    # the oos/in-scope balance the fold had set ("how do I get my blender fixed" read as oos; the
    # caller set's test half got one confident out-of-domain answer, 0 before). docs/benchmarks.md.
    model = train(emb, hashed(clean), labels,
                  TrainConfig(seed=seed, epochs=30, batch=32, lr=0.02, refit=False),
                  provenance={"catalog": str(path), "catalog_sha256": catalog.sha256,
                              "embedder": getattr(embedder, "name", "embedder")})
    model.bank, model.bank_y = sort_bank(
        emb.astype(np.float32), np.asarray([model.labels.index(label) for label in labels], np.int64))
    alerts = _alert_thresholds(model, emb, clean, labels)
    if alerts:
        alerts[EMERGENCY_MARGIN] = _loo_margin(emb, labels)
    model.provenance["alert_thresholds"] = alerts
    try:
        model.save(out)
    except OSError as exc:  # a read-only folder: the model still serves, it is trained again next start
        log.warning("intent weights not saved to %s (%s); set core.intent_model_path to a writable file",
                    out, exc)
    return model


_TRAIN_LOCK = threading.Lock()


def load_understanding(path: Path, embedder: Embedder | None, weights: Path) -> Understanding:
    """Blocking, at start: the catalog (a malformed one raises CatalogError), and its weights,
    trained now when missing or made from another version of the catalog."""
    catalog = load_catalog(path)  # validates even without embeddings
    if embedder is None:
        return PhraseUnderstanding()
    with _TRAIN_LOCK:
        model = None
        if weights.is_file():
            try:
                model = IntentModel.load(weights)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                log.warning("intent weights %s unreadable (%s); retraining", weights, exc)
        if model is None or model.provenance.get("catalog_sha256") != catalog.sha256 \
                or model.provenance.get("features") != FEATURES:
            log.info("training the intent classifier on %s", path)
            model = train_catalog(path, embedder, weights)
    return CatalogUnderstanding(catalog, model, embedder)
