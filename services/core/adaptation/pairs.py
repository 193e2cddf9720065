"""Training pairs made from the indexed corpus itself, with no labels.

- inverse cloze: a sentence of a passage -> the passage (the sentence cut out of it 9 times in 10, so the
  encoder learns what surrounds a statement, not to spot the same words);
- heading -> its section's passage;
- a hard negative for each: a passage of another document that BM25 (the index's own sparse branch) ranks high
  for the query, skipping the very top ones, which are too often true answers that another document repeats.

Pairs are split by document into training and held-out: the held-out documents' pairs never train, and the gate
(gate.py) scores the encoders on them."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.core.embedding.context import embedded_text

# Sentences shorter than this say too little to find their passage by.
MIN_WORDS = 5
SENTENCES_PER_PASSAGE = 2
# Ranks of the BM25 list a hard negative is drawn from (0-based, other documents only).
NEGATIVE_RANKS = (2, 12)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")


@dataclass(frozen=True)
class Passage:
    """A stored chunk as the encoder sees it."""

    id: str
    document_id: str
    title: str
    heading: str
    text: str

    @property
    def embedded(self) -> str:
        return embedded_text(self.title, self.heading, self.text)


@dataclass(frozen=True)
class TrainingPair:
    query: str
    positive: str  # what the encoder sees for the passage (with the sentence cut out for inverse cloze)
    document_id: str
    negative: str | None = None


# (query, how many) -> the passage ids BM25 ranks best for it, best first.
SparseSearch = Callable[[str, int], list[str]]


def sentences(text: str) -> list[str]:
    parts = (s.strip() for s in _SENTENCE_END.split(text))
    return [s for s in parts if len(s.split()) >= MIN_WORDS and not s.startswith("|")]


def make_pairs(
    passages: Sequence[Passage],
    *,
    rng: random.Random,
    search: SparseSearch | None = None,
    limit: int = 0,
    questions: Mapping[str, str] | None = None,
) -> list[TrainingPair]:
    """Pairs of every passage, shuffled; at most `limit` (0: all). `search` mines hard negatives. `questions`
    (passage id -> a question the LLM wrote about it, questions.py) adds a question -> passage pair each."""
    by_id = {p.id: p for p in passages}
    pairs: list[tuple[str, Passage, str]] = []
    for passage in passages:
        if questions and passage.id in questions:
            pairs.append((questions[passage.id], passage, passage.embedded))
        chosen = rng.sample(sentences(passage.text), min(len(sentences(passage.text)), SENTENCES_PER_PASSAGE))
        for sentence in chosen:
            rest = passage.text.replace(sentence, " ") if rng.random() < 0.9 else passage.text
            pairs.append((sentence, passage, embedded_text(passage.title, passage.heading, rest)))
        heading = passage.heading.split(" > ")[-1].strip()
        if len(heading.split()) >= 2 and heading != passage.title:
            pairs.append((heading, passage, passage.embedded))
    rng.shuffle(pairs)
    if limit:
        pairs = pairs[:limit]
    out = []
    for query, passage, positive in pairs:
        negative = _hard_negative(query, passage, by_id, search, rng) if search else None
        out.append(TrainingPair(query, positive, passage.document_id, negative))
    return out


def _hard_negative(
    query: str, passage: Passage, by_id: dict[str, Passage], search: SparseSearch, rng: random.Random
) -> str | None:
    low, high = NEGATIVE_RANKS
    others = [by_id[i] for i in search(query, high + 8) if i in by_id and by_id[i].document_id != passage.document_id]
    pool = others[low:high] or others[-1:]
    return rng.choice(pool).embedded if pool else None


def split_by_document(
    pairs: Iterable[TrainingPair], *, held_out: float, rng: random.Random
) -> tuple[list[TrainingPair], list[TrainingPair]]:
    """(training, held-out): whole documents go to one side, so no held-out passage was ever seen in training."""
    pairs = list(pairs)
    documents = sorted({p.document_id for p in pairs})
    rng.shuffle(documents)
    kept_out = set(documents[: max(1, round(len(documents) * held_out))]) if held_out > 0 and documents else set()
    return [p for p in pairs if p.document_id not in kept_out], [p for p in pairs if p.document_id in kept_out]
