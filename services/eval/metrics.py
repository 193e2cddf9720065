"""Scoring as pure functions over document names: ranking metrics, refusal calibration, citation precision.

A ranking is a list of DISTINCT documents, best first (see `distinct_documents`); relevance is binary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T", bound=Hashable)

# "[2]", "[1, 3]" or "[1][3]": the numbered sources an answer points at.
_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def distinct_documents(hits: Iterable[T]) -> list[T]:
    """The documents of ranked chunk hits, each once, in the order of its first (best) hit."""
    return list(dict.fromkeys(hits))


def _need_relevant(relevant: Collection[object]) -> None:
    if not relevant:
        raise ValueError("ranking metrics need at least one relevant document")


def recall_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Fraction of the relevant documents among the first k ranked ones."""
    _need_relevant(relevant)
    return len(set(ranked[:k]) & set(relevant)) / len(set(relevant))


def first_relevant_rank(ranked: Sequence[T], relevant: Collection[T], k: int | None = None) -> int | None:
    """1-based rank of the first relevant document within the first k (all when None), else None."""
    for rank, document in enumerate(ranked[:k] if k is not None else ranked, 1):
        if document in relevant:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[T], relevant: Collection[T], k: int = 10) -> float:
    """1 / rank of the first relevant document within the first k; 0 when there is none."""
    _need_relevant(relevant)
    rank = first_relevant_rank(ranked, relevant, k)
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Binary-gain nDCG: sum of 1/log2(rank+1) over relevant hits in the first k, over the ideal such sum
    (all min(|relevant|, k) relevant documents on top)."""
    _need_relevant(relevant)
    wanted = set(relevant)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1) if doc in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def mean(values: Iterable[float | None]) -> float | None:
    """Average of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- refusal calibration ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePoint:
    """Refusing every question whose top similarity is below `threshold` would give these rates."""

    threshold: float
    refusal_accuracy: float | None  # unanswerable questions refused; None without unanswerable questions
    false_refusal_rate: float | None  # answerable questions refused; None without answerable questions


@dataclass(frozen=True)
class Calibration:
    """The relevance floor that refuses the most unanswerable questions with false refusals within the cap."""

    floor: float | None  # None when no threshold keeps false refusals within the cap (or a side has no questions)
    refusal_accuracy: float | None
    false_refusal_rate: float | None
    max_false_refusal_rate: float
    curve: tuple[CurvePoint, ...]


def _refused(similarity: float | None, threshold: float) -> bool:
    """No hit at all is always a refusal; otherwise refuse below the threshold."""
    return similarity is None or similarity < threshold


def _rate(similarities: Sequence[float | None], threshold: float) -> float | None:
    if not similarities:
        return None
    return sum(_refused(s, threshold) for s in similarities) / len(similarities)


def refusal_curve(
    answerable: Sequence[float | None], unanswerable: Sequence[float | None], step: float = 0.01
) -> list[CurvePoint]:
    """Rates at every threshold from 0.0 to 1.0 inclusive, `step` apart, given each question's top similarity
    (None: the search found nothing)."""
    points = round(1.0 / step)
    thresholds = [round(i * step, 6) for i in range(points + 1)]
    return [CurvePoint(t, _rate(unanswerable, t), _rate(answerable, t)) for t in thresholds]


def calibrate_floor(
    answerable: Sequence[float | None],
    unanswerable: Sequence[float | None],
    max_false_refusal_rate: float = 0.05,
    step: float = 0.01,
) -> Calibration:
    """The threshold with the highest refusal accuracy among those whose false-refusal rate is within the cap;
    on a tie the lowest such threshold (it refuses the fewest answerable questions)."""
    curve = refusal_curve(answerable, unanswerable, step)
    best: CurvePoint | None = None
    if answerable and unanswerable:
        for point in curve:
            assert point.refusal_accuracy is not None and point.false_refusal_rate is not None
            within_cap = point.false_refusal_rate <= max_false_refusal_rate + 1e-12
            if within_cap and (best is None or point.refusal_accuracy > (best.refusal_accuracy or 0.0) + 1e-12):
                best = point
    return Calibration(
        floor=best.threshold if best else None,
        refusal_accuracy=best.refusal_accuracy if best else None,
        false_refusal_rate=best.false_refusal_rate if best else None,
        max_false_refusal_rate=max_false_refusal_rate,
        curve=tuple(curve),
    )


# --- citations ----------------------------------------------------------------------------------------------------


def cited_sources(answer: str, numbers: Collection[int]) -> list[int]:
    """The source numbers among `numbers` that the answer marks as `[n]`, in order of first mention."""
    found: list[int] = []
    for match in _MARKER.finditer(answer):
        for part in re.split(r"\s*[,;]\s*", match.group(1)):
            number = int(part)
            if number in numbers and number not in found:
                found.append(number)
    return found


def cited_documents(answer: str, citations: Sequence[tuple[int, T]]) -> list[T]:
    """The documents the answer cites: those of the citations whose `[n]` marker is in the answer, or of every
    citation when the answer marks none of them; each document once."""
    marked = set(cited_sources(answer, {number for number, _ in citations}))
    chosen = [doc for number, doc in citations if number in marked] if marked else [doc for _, doc in citations]
    return distinct_documents(chosen)


def citation_precision(answer: str, citations: Sequence[tuple[int, T]], relevant: Collection[T]) -> float | None:
    """Relevant cited documents / cited documents; None when nothing is cited."""
    cited = cited_documents(answer, citations)
    if not cited:
        return None
    return sum(doc in relevant for doc in cited) / len(cited)
