"""Extractive answers: the sentences of the best sources that answer the question, quoted with their citations.

Used when the sources are right but no generated sentence could be checked against them, and when the model is
down: the user still gets the answer the documents hold, marked as quoted rather than written, instead of a
false "I don't know" or a bare list of sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.core.answers.grounding import content_words, numbers, source_sentences

Embed = Callable[[Sequence[str]], list[list[float]]]

INTRO = "Quoted from the documents:"
MAX_SENTENCES = 3
# A sentence this much less similar to the question than the best one is not quoted with it.
SIMILARITY_MARGIN = 0.12
MIN_WORDS = 3
MAX_CANDIDATES = 12
_TABLE_NOISE = re.compile(r"^[\s|:\-]*$")


@dataclass(frozen=True)
class Quote:
    text: str
    source: int  # the citation number (as the prompt numbered it)
    similarity: float


def candidate_sentences(text: str) -> list[str]:
    """A passage's sentences (lines of lists and tables count as sentences), without layout noise."""
    return [
        sentence
        for sentence in source_sentences(text)
        if len(content_words(sentence)) >= MIN_WORDS and not _TABLE_NOISE.match(sentence)
    ]


def select(question: str, sources: Sequence[tuple[int, str]], embed: Embed) -> list[Quote]:
    """Up to MAX_SENTENCES sentences of `sources` ((number, text), best source first) that answer the question:
    the most similar one, and others nearly as similar, in the order the sources rank them."""
    candidates = [(number, sentence) for number, text in sources for sentence in candidate_sentences(text)]
    if not candidates:
        return []
    # Only the sentences sharing the most words and numbers with the question are embedded (the one that answers
    # it nearly always shares some); when none shares any, all of them are.
    asked = content_words(question) | numbers(question)
    shared = [len(asked & (content_words(sentence) | numbers(sentence))) for _, sentence in candidates]
    if any(shared):
        ranked = sorted(range(len(candidates)), key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
        candidates = [candidates[i] for i in sorted(i for i in ranked if shared[i])]
    vectors = embed([question] + [sentence for _, sentence in candidates])
    query, rest = vectors[0], vectors[1:]
    scored = [
        Quote(sentence, number, sum(a * b for a, b in zip(query, vector, strict=True)))
        for (number, sentence), vector in zip(candidates, rest, strict=True)
    ]
    best = max(q.similarity for q in scored)
    chosen = sorted((q for q in scored if q.similarity >= best - SIMILARITY_MARGIN), key=lambda q: -q.similarity)[
        :MAX_SENTENCES
    ]
    order = {id(q): i for i, q in enumerate(scored)}
    return sorted(chosen, key=lambda q: order[id(q)])  # as the sources rank them, best source first


def render(quotes: Sequence[Quote]) -> str:
    """The quotes as an answer: each sentence in quotation marks with its citation marker."""
    return " ".join([INTRO, *(f"“{q.text.strip()}” [{q.source}]" for q in quotes)])
