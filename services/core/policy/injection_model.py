"""Learned prompt-injection detector: logistic regressions over the sentence embedding Steward already has.

Features, per text: the all-MiniLM-L6-v2 vector (the query embedding of a question, the stored vector of a
chunk), the heuristic detector's score and one indicator per heuristic signal (services/core/policy/injection.py),
a few cheap text statistics (length, casing, second-person and AI-addressing words, markup), and two logits of a
small phrase model (hashed word unigrams and bigrams) for the whole text and for its most suspicious window of
three sentences, since an injection in a document is usually a sentence or two that the chunk's one vector
averages away. Three heads share the features: one for questions (`detect`, given the query embedding), one for
a document chunk's single stored vector (`detect(..., kind="document")`, what retrieval can afford), and one for
the windows of a chunk (`score_document`, run at ingestion): the chunk is cut into sentences (or lines), every run
of 1 and of 3 of them is embedded and scored, and so is the whole chunk; the chunk's score is the highest. The
window head has one hidden layer (a small perceptron, the same features in), the others are linear.
Each head has its threshold picked on a tuning split when it was trained (bench/train_injection.py; sources,
licences, splits and figures in injection_model.json and docs/governance.md).

At run time this is numpy only: the weights (injection_weights.npz, under 1 MB) load once, offline, and
scoring a question costs the regex pass, a few hashed look-ups and a dot product (well under a millisecond
given the embedding); `score_document` costs one embedding per window (a 900-character chunk has about 20).
The heuristic reasons stay in the result, so the audit log can still say which phrases looked like an
injection; the model's score decides."""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from services.core.policy.injection import SIGNALS, InjectionScore, detect

QUESTION = "question"
DOCUMENT = "document"
KINDS = (QUESTION, DOCUMENT)
# The windowed document scorer (score_document) has its own head and threshold under this name.
WINDOWS = "document_windows"
HEADS = (*KINDS, WINDOWS)
# The screen in front of the windows: a chunk whose one-vector document score is below it is scored on its own
# vector only, its windows never embedded (InjectionModel.window_screen).
SCREEN = "document_windows_screen"

Embed = Callable[[Sequence[str]], list[list[float]]]

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "injection_weights.npz"
METADATA = HERE / "injection_model.json"

_WORD = re.compile(r"[A-Za-z']+")
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE)
_AI_WORDS = re.compile(
    r"\b(?:ai|assistant|chatbot|bot|llm|model|gpt|chatgpt|language\s+model|agent|system)\b", re.IGNORECASE
)
_IMPERATIVE_START = re.compile(
    r"(?:^|[.!?:\n]\s*)(?:ignore|disregard|forget|do|don't|never|always|now|stop|start|pretend|act|respond|reply"
    r"|answer|print|output|reveal|say|write|repeat|include|append|send|call|tell|show|remember|must)\b",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^<>\n]{1,40}>|\[/?[A-Z_]{2,20}\]")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(")

STAT_NAMES = (
    "log_chars",
    "upper_ratio",
    "non_ascii_ratio",
    "digit_ratio",
    "second_person_rate",
    "ai_words_rate",
    "imperative_starts_rate",
    "newline_rate",
    "ends_with_question_mark",
    "quote_rate",
    "has_url",
    "has_markdown_image",
    "tag_count",
    "longest_token",
    "exclamation_rate",
)
TEXT_MODEL_NAMES = ("phrases_max_window", "phrases_whole_text")
FEATURE_NAMES = ("heuristic_score", *(f"signal:{s.name}" for s in SIGNALS), *STAT_NAMES, *TEXT_MODEL_NAMES)

# The phrase model: a logistic regression over hashed word unigrams and bigrams (present or not, L2-normalised),
# trained on short windows of attacks and of benign text. A document's injection is usually a sentence or two
# in an otherwise ordinary chunk, which the chunk's one embedding averages away; the best-scoring window does not.
HASH_BITS = 14
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_SEGMENT = re.compile(r"(?<=[.!?])\s+|\n+")
WINDOW = 3  # segments (sentences or lines) per window
MAX_WINDOWS = 64


# Windows of a document for score_document: runs of DOCUMENT_WINDOW_SIZES segments (a sentence or a line; a
# segment shorter than MIN_SEGMENT_CHARS is joined to the next, one longer than MAX_SEGMENT_CHARS is cut).
DOCUMENT_WINDOW_SIZES = (1, 3)
MIN_SEGMENT_CHARS = 30
MAX_SEGMENT_CHARS = 400
MAX_DOCUMENT_WINDOWS = 256


def hashed_terms(text: str) -> np.ndarray:
    """Distinct hashed unigram and bigram ids of a text (lower-cased words and single punctuation marks)."""
    tokens = _TOKEN.findall(text.lower())
    terms = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    mask = (1 << HASH_BITS) - 1
    return np.unique(np.fromiter((zlib.crc32(t.encode()) & mask for t in terms), dtype=np.int64, count=len(terms)))


def windows(text: str) -> list[str]:
    """Overlapping runs of WINDOW sentences or lines (the whole text when it is shorter)."""
    segments = [s for s in _SEGMENT.split(text) if s.strip()]
    if len(segments) <= WINDOW:
        return [text]
    runs = [" ".join(segments[i : i + WINDOW]) for i in range(len(segments) - WINDOW + 1)]
    if len(runs) > MAX_WINDOWS:  # a very long text: evenly spaced windows, always the same ones
        step = len(runs) / MAX_WINDOWS
        runs = [runs[int(i * step)] for i in range(MAX_WINDOWS)]
    return runs


def segment_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the segments of a text: sentences or lines, short ones joined, long ones cut at a space."""
    raw: list[tuple[int, int]] = []
    start = 0
    for match in _SEGMENT.finditer(text):
        raw.append((start, match.start()))
        start = match.end()
    raw.append((start, len(text)))
    pieces: list[tuple[int, int]] = []
    for begin, end in raw:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        while end - begin > MAX_SEGMENT_CHARS:
            cut = text.rfind(" ", begin + MAX_SEGMENT_CHARS // 2, begin + MAX_SEGMENT_CHARS)
            cut = cut if cut > begin else begin + MAX_SEGMENT_CHARS
            pieces.append((begin, cut))
            begin = cut
            while begin < end and text[begin].isspace():
                begin += 1
        if end > begin:
            pieces.append((begin, end))
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for begin, end in pieces:
        current = (current[0], end) if current else (begin, end)
        if current[1] - current[0] >= MIN_SEGMENT_CHARS:
            spans.append(current)
            current = None
    if current is not None:
        if spans and current[1] - current[0] < MIN_SEGMENT_CHARS:
            spans[-1] = (spans[-1][0], current[1])
        else:
            spans.append(current)
    return spans


def document_window_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each window score_document scores, the whole text excluded; distinct, in order."""
    spans = segment_spans(text)
    if len(spans) <= 1:
        return []  # one segment: the whole text is its only window
    found: list[tuple[int, int]] = []
    for size in DOCUMENT_WINDOW_SIZES:
        if size > 1 and len(spans) <= size:
            continue  # the window would be the whole text, which is scored anyway
        found += [(spans[i][0], spans[i + size - 1][1]) for i in range(len(spans) - size + 1)]
    found = sorted(set(found))
    if len(found) > MAX_DOCUMENT_WINDOWS:  # a very long text: evenly spaced windows, always the same ones
        step = len(found) / MAX_DOCUMENT_WINDOWS
        found = [found[int(i * step)] for i in range(MAX_DOCUMENT_WINDOWS)]
    return found


def document_windows(text: str) -> list[str]:
    """The texts score_document embeds for one chunk: the whole chunk first, then its windows."""
    return list(dict.fromkeys([text, *(text[a:b] for a, b in document_window_spans(text))]))


@dataclass(frozen=True)
class PhraseModel:
    coef: np.ndarray  # one weight per hashed term
    intercept: float

    def logit(self, text: str) -> float:
        terms = hashed_terms(text)
        if len(terms) == 0:
            return self.intercept
        return float(self.coef[terms].sum() / math.sqrt(len(terms)) + self.intercept)

    def features(self, text: str) -> list[float]:
        """(best window's logit, whole text's logit)."""
        return [max(self.logit(w) for w in windows(text)), self.logit(text)]


def text_features(text: str, phrases: PhraseModel) -> list[float]:
    """The heuristic score, one 0/1 per heuristic signal, the text statistics and the phrase model's logits,
    in FEATURE_NAMES order."""
    return _text_features(text, detect(text), phrases)


def _text_features(text: str, found: InjectionScore, phrases: PhraseModel) -> list[float]:
    matched = {m.signal for m in found.matches}
    chars = max(len(text), 1)
    letters = [c for c in text if c.isalpha()]
    words = max(len(_WORD.findall(text)), 1)
    tokens = text.split()
    stats = [
        math.log1p(len(text)) / 8.0,
        sum(c.isupper() for c in letters) / max(len(letters), 1),
        sum(not c.isascii() for c in text) / chars,
        sum(c.isdigit() for c in text) / chars,
        min(len(_SECOND_PERSON.findall(text)) / words * 5.0, 1.0),
        min(len(_AI_WORDS.findall(text)) / words * 10.0, 1.0),
        min(len(_IMPERATIVE_START.findall(text)) / words * 10.0, 1.0),
        min(text.count("\n") / chars * 50.0, 1.0),
        1.0 if text.rstrip().endswith("?") else 0.0,
        min((text.count('"') + text.count("'")) / chars * 20.0, 1.0),
        1.0 if _URL.search(text) else 0.0,
        1.0 if _MARKDOWN_IMAGE.search(text) else 0.0,
        min(len(_TAG.findall(text)) / 5.0, 1.0),
        min(max((len(t) for t in tokens), default=0) / 60.0, 1.0),
        min(text.count("!") / chars * 50.0, 1.0),
    ]
    return [found.score, *(1.0 if s.name in matched else 0.0 for s in SIGNALS), *stats, *phrases.features(text)]


def features(texts: Sequence[str], vectors: np.ndarray | Sequence[Sequence[float]], phrases: PhraseModel) -> np.ndarray:
    """The model's input rows: [embedding | heuristic, text and phrase features], float64, one row per text."""
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != len(texts):
        raise ValueError(f"expected one vector per text ({len(texts)}), got an array of shape {matrix.shape}")
    rows = [text_features(t, phrases) for t in texts]
    extra = np.array(rows, dtype=np.float64).reshape(len(texts), len(FEATURE_NAMES))
    return np.hstack([matrix, extra])


@dataclass(frozen=True)
class Head:
    """A logistic regression over standardised features, p = sigmoid(((x - mean) / scale) . coef + intercept), or,
    with `hidden` (features x units) and `hidden_bias`, the same over one ReLU layer: a small perceptron."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    hidden: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None

    def logits(self, rows: np.ndarray) -> np.ndarray:
        z = (rows - self.mean) / self.scale
        if self.hidden is not None and self.hidden_bias is not None:
            z = np.maximum(z @ self.hidden + self.hidden_bias, 0.0)
        return z @ self.coef + self.intercept


@dataclass(frozen=True)
class ModelInjectionScore(InjectionScore):
    """An InjectionScore whose `score` is the model's probability; `threshold` is the head's tuned cut-off.

    `reasons` and `matches` are the heuristic detector's (so `neutralise` still finds the sentences to cut),
    with a first reason naming the model's score."""

    threshold: float = 0.5
    heuristic_score: float = 0.0
    kind: str = QUESTION
    window: str = ""  # score_document: the window that scored highest (the whole text when that did)
    screened: bool = False  # score_documents: below the window screen, scored on the whole chunk alone

    @property
    def flagged(self) -> bool:
        """At or above the threshold this head was tuned to."""
        return self.score >= self.threshold


def _verdict(
    score: float,
    threshold: float,
    kind: str,
    heuristic: InjectionScore,
    *,
    window: str = "",
    detail: str = "",
    screened: bool = False,
) -> ModelInjectionScore:
    """The model's score with the heuristic's reasons and matches, its first reason naming score and threshold."""
    verdict = "at or above" if score >= threshold else "below"
    reason = f"model ({kind}): {score:.4f}, {verdict} the threshold {threshold:.4f}{detail}"
    return ModelInjectionScore(
        score=score,
        reasons=[reason, *heuristic.reasons],
        matches=heuristic.matches,
        threshold=threshold,
        heuristic_score=heuristic.score,
        kind=kind,
        window=window,
        screened=screened,
    )


@dataclass(frozen=True)
class InjectionModel:
    heads: dict[str, Head]
    phrases: PhraseModel
    thresholds: dict[str, float]
    dimension: int
    metadata: dict[str, Any] = field(default_factory=dict)
    # Embedding a chunk's windows costs about three times its own embedding: most of ingestion's time on short
    # documents. Below this one-vector document score no chunk of the tune split that the windows catch was found,
    # so its windows are not embedded (bench/train_injection.py pick_window_screen); None: every chunk windowed.
    window_screen: float | None = None

    @classmethod
    def load(cls, weights: Path | None = None, metadata: Path | None = None) -> InjectionModel:
        """The committed model (read once per process), or the one at the given paths."""
        if weights is None and metadata is None:
            return _default_model()
        return cls._read(weights or WEIGHTS, metadata or METADATA)

    @classmethod
    def _read(cls, weights: Path, metadata: Path) -> InjectionModel:
        meta = json.loads(metadata.read_text())
        if tuple(meta["features"]["extra"]) != FEATURE_NAMES:
            raise ValueError(f"{metadata}: the model was trained on other features than this code computes")
        heads: dict[str, Head] = {}
        with np.load(weights, allow_pickle=False) as arrays:
            for kind in HEADS:
                hidden = arrays[f"{kind}_hidden"].astype(np.float64) if f"{kind}_hidden" in arrays else None
                bias = arrays[f"{kind}_hidden_bias"].astype(np.float64) if f"{kind}_hidden_bias" in arrays else None
                heads[kind] = Head(
                    coef=arrays[f"{kind}_coef"].astype(np.float64),
                    intercept=float(arrays[f"{kind}_intercept"]),
                    mean=arrays[f"{kind}_mean"].astype(np.float64),
                    scale=arrays[f"{kind}_scale"].astype(np.float64),
                    hidden=hidden,
                    hidden_bias=bias,
                )
            phrases = PhraseModel(arrays["phrases_coef"].astype(np.float64), float(arrays["phrases_intercept"]))
        if phrases.coef.shape != (1 << HASH_BITS,):
            raise ValueError(f"{weights}: the phrase model has {phrases.coef.shape[0]} weights, not {1 << HASH_BITS}")
        dimension = int(meta["features"]["embedding_dimension"])
        expected = dimension + len(FEATURE_NAMES)
        for kind, head in heads.items():
            inputs = head.mean.shape[0] if head.hidden is None else head.hidden.shape[0]
            units = head.coef.shape[0] if head.hidden is None else head.hidden.shape[1]
            if inputs != expected or head.mean.shape != (expected,) or head.coef.shape != (units,):
                raise ValueError(f"{weights}: {kind} head takes {inputs} features, expected {expected}")
        thresholds = {kind: float(meta["thresholds"][kind]) for kind in HEADS}
        screen = meta["thresholds"].get(SCREEN)
        return cls(heads, phrases, thresholds, dimension, meta, None if screen is None else float(screen))

    def threshold(self, kind: str = QUESTION) -> float:
        """The tuned threshold of `question`, `document` (one vector per chunk) or `document_windows`."""
        if kind == WINDOWS:
            return self.thresholds[WINDOWS]
        return self.thresholds[_kind(kind)]

    def score(
        self, texts: Sequence[str], vectors: np.ndarray | Sequence[Sequence[float]], kind: str = QUESTION
    ) -> list[float]:
        """Probability-like scores in [0, 1], one per text: `vectors` are the texts' normalised embeddings."""
        return [r.score for r in self.detect_many(texts, vectors, kind)]

    def detect(self, text: str, vector: np.ndarray | Sequence[float], kind: str = QUESTION) -> ModelInjectionScore:
        return self.detect_many([text], np.asarray(vector, dtype=np.float64).reshape(1, -1), kind)[0]

    def detect_many(
        self, texts: Sequence[str], vectors: np.ndarray | Sequence[Sequence[float]], kind: str = QUESTION
    ) -> list[ModelInjectionScore]:
        """Model score, heuristic reasons and matches for each text."""
        kind = _kind(kind)
        matrix = np.asarray(vectors, dtype=np.float64)
        if len(texts) == 0:
            return []
        if matrix.ndim != 2 or matrix.shape != (len(texts), self.dimension):
            raise ValueError(f"expected {len(texts)} vectors of {self.dimension} numbers, got shape {matrix.shape}")
        found = [detect(text) for text in texts]
        rows = [_text_features(t, f, self.phrases) for t, f in zip(texts, found, strict=True)]
        extra = np.array(rows, dtype=np.float64)
        logits = self.heads[kind].logits(np.hstack([matrix, extra]))
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
        threshold = self.thresholds[kind]
        results = []
        for heuristic, p in zip(found, probabilities, strict=True):
            results.append(_verdict(round(float(p), 4), threshold, kind, heuristic))
        return results

    def score_document(
        self, text: str, embed: Embed, vector: np.ndarray | Sequence[float] | None = None
    ) -> ModelInjectionScore:
        """The windowed score of one chunk (see score_documents)."""
        vectors = None if vector is None else np.asarray(vector, dtype=np.float64).reshape(1, -1)
        return self.score_documents([text], embed, vectors)[0]

    def score_documents(
        self,
        texts: Sequence[str],
        embed: Embed,
        vectors: np.ndarray | Sequence[Sequence[float] | None] | None = None,
        *,
        screened: bool = True,
    ) -> list[ModelInjectionScore]:
        """Score chunks by their most suspicious window, for ingestion: one embedding per window.

        Each chunk is cut into sentences or lines (document_windows); the whole chunk and every run of 1 and
        of 3 segments go through the window head, and the chunk's score is the highest of them, compared with
        the `document_windows` threshold. `embed` is called once for all windows of all `texts` (pass the
        ingestion embedder's batch method); `vectors`, if given, are the chunks' own vectors (saves embedding
        the whole chunks again). `window` in each result is the text that scored highest.

        With `screened` and the model's `window_screen`, a chunk given with its own vector whose one-vector
        document score is below the screen is scored on the whole chunk alone: its windows are not embedded."""
        if len(texts) == 0:
            return []
        per_text = [document_windows(t) for t in texts]
        known: dict[str, np.ndarray] = {}
        if vectors is not None:
            if len(vectors) != len(texts):
                raise ValueError(f"expected {len(texts)} vectors, got {len(vectors)}")
            for text, vector in zip(texts, vectors, strict=True):
                if vector is not None:
                    known[text] = np.asarray(vector, dtype=np.float64).reshape(-1)
        # The heuristic and the text features of each distinct text, once: the screen's document head, the window
        # head and the verdicts all read them (a chunk is its own first window).
        heuristics: dict[str, InjectionScore] = {}
        rows: dict[str, list[float]] = {}

        def row(text: str) -> list[float]:
            if text not in rows:
                heuristics[text] = detect(text)
                rows[text] = _text_features(text, heuristics[text], self.phrases)
            return rows[text]

        screens: dict[int, float] = {}
        if screened and self.window_screen is not None and known:
            own = [i for i, text in enumerate(texts) if text in known]
            inputs = np.hstack([np.array([known[texts[i]] for i in own]), np.array([row(texts[i]) for i in own])])
            first = 1.0 / (1.0 + np.exp(-np.clip(self.heads[DOCUMENT].logits(inputs), -60.0, 60.0)))
            for i, probability in zip(own, first.tolist(), strict=True):
                if (score := round(probability, 4)) < self.window_screen:
                    per_text[i], screens[i] = [texts[i]], score
        missing = list(dict.fromkeys(w for windows_ in per_text for w in windows_ if w not in known))
        if missing:
            for window, vector in zip(missing, embed(missing), strict=True):
                known[window] = np.asarray(vector, dtype=np.float64).reshape(-1)
        distinct = list(dict.fromkeys(w for windows_ in per_text for w in windows_))
        matrix = np.array([known[w] for w in distinct], dtype=np.float64).reshape(len(distinct), -1)
        if matrix.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of {self.dimension} numbers, got shape {matrix.shape}")
        extra = np.array([row(w) for w in distinct], dtype=np.float64)
        logits = self.heads[WINDOWS].logits(np.hstack([matrix, extra]))
        by_window = dict(zip(distinct, logits.tolist(), strict=True))
        threshold = self.thresholds[WINDOWS]
        results = []
        for index, (text, windows_) in enumerate(zip(texts, per_text, strict=True)):
            best = max(windows_, key=lambda w: by_window[w])
            score = round(float(1.0 / (1.0 + math.exp(-min(max(by_window[best], -60.0), 60.0)))), 4)
            where = "the whole chunk" if best == text else f"window {_quote(best)}"
            detail = f" (highest of {len(windows_)} windows: {where})"
            if index in screens:
                detail = (
                    f" (the whole chunk only: its one-vector score {screens[index]:.4f} is below the window screen "
                    f"{self.window_screen:.4f})"
                )
            results.append(
                _verdict(
                    score, threshold, WINDOWS, heuristics[text], window=best, detail=detail, screened=index in screens
                )
            )
        return results


def _quote(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return kind


@cache
def _default_model() -> InjectionModel:
    return InjectionModel._read(WEIGHTS, METADATA)
