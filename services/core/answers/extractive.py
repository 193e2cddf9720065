"""Extractive answers: the sentences of the best sources that answer the question, quoted with their citations.

Used when the sources are right but no generated sentence could be checked against them, and when the model is
down: the user still gets the answer the documents hold, marked as quoted rather than written, instead of a
false "I don't know" or a bare list of sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.core.answers.answer_types import asked, codes
from services.core.answers.grounding import content_words, numbers, source_sentences

Embed = Callable[[Sequence[str]], list[list[float]]]

INTRO = "Quoted from the documents:"
# At most this many sentences, each within SIMILARITY_MARGIN of the best one's similarity to the question. Both
# (and VALUE_BONUS below) were picked on the `tune` half of the eval set by bench/extractive.py; the answering
# sentence is often only the third to sixth most similar, so four within 0.2 holds it more often than three
# within 0.12 (22 -> 27 of 45 tune questions).
MAX_SENTENCES = 4
SIMILARITY_MARGIN = 0.2
MIN_WORDS = 3
MAX_CANDIDATES = 12
_TABLE_NOISE = re.compile(r"^[\s|:\-]*$")

# A question asking for a kind of value (a duration, an amount, a time, a count: answer_types.py) is answered by a
# sentence that states one: such sentences get VALUE_BONUS on their similarity, are shortlisted even when they
# share no word with the question, and when none of the chosen ones states a value the best that does takes the
# last place. A sentence naming an identifier the question names (a form, an error code) gets CODE_BONUS. Both
# were picked on half of the eval set (bench/extractive.py's `tune`).
VALUE_BONUS = 0.15
CODE_BONUS = 0.15
# A quoted line that only introduces what follows (it ends with a colon) is quoted with the line after it, or with
# the table after it (its header and up to TABLE_ROWS rows), since the header alone answers nothing.
_INTRODUCES = re.compile(r":\**\s*$")
_TABLE_ROW = re.compile(r"\S\s*\|\s*\S")
TABLE_ROWS = 4


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
    every = [(number, sentence) for number, text in sources for sentence in candidate_sentences(text)]
    if not every:
        return []
    value = asked(question)
    named = codes(question)
    valued = [value.stated_by(sentence) for _, sentence in every]
    # Only the sentences sharing the most words and numbers with the question are embedded (the one that answers
    # it nearly always shares some), and those that state the kind of value asked for; when none shares any word,
    # all of them are.
    question_terms = _terms(question)
    shared = [len(question_terms & _terms(sentence)) for _, sentence in every]
    kept = list(range(len(every)))
    if any(shared):
        ranked = sorted(kept, key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
        typed = sorted((i for i in kept if valued[i] and i not in ranked), key=lambda i: (-shared[i], i))
        kept = sorted({i for i in ranked if shared[i]} | set(typed[:MAX_CANDIDATES]))
    vectors = embed([question] + [every[i][1] for i in kept])
    asking, rest = vectors[0], vectors[1:]
    scores = {
        i: sum(a * b for a, b in zip(asking, vector, strict=True))
        + (VALUE_BONUS if valued[i] else 0.0)
        + (CODE_BONUS if named and named & codes(every[i][1]) else 0.0)
        for i, vector in zip(kept, rest, strict=True)
    }
    best = max(scores.values())
    chosen = sorted((i for i in kept if scores[i] >= best - SIMILARITY_MARGIN), key=lambda i: -scores[i])
    chosen = chosen[:MAX_SENTENCES]
    if value.kinds and not any(valued[i] for i in chosen):
        stating = [i for i in kept if valued[i]]
        if stating:
            chosen = [*chosen[: MAX_SENTENCES - 1], max(stating, key=lambda i: scores[i])]
    quotes: list[Quote] = []
    for i in sorted(chosen):  # as the sources rank them, best source first
        number, sentence = every[i]
        if _INTRODUCES.search(sentence):
            sentence = " ".join([sentence, *_introduced(every, i)])
        if all(sentence not in q.text and q.text not in sentence for q in quotes):
            quotes.append(Quote(sentence, number, scores[i]))
    return quotes


def _introduced(every: Sequence[tuple[int, str]], i: int) -> list[str]:
    """What the line at `i` introduces: the next line of the same source, or the table that starts there."""
    number = every[i][0]
    following = [sentence for n, sentence in every[i + 1 : i + 2 + TABLE_ROWS] if n == number]
    if not following:
        return []
    if not _TABLE_ROW.search(following[0]):
        return following[:1]
    table = []
    for sentence in following:
        if not _TABLE_ROW.search(sentence):
            break
        table.append(sentence)
    return table


_SUFFIX = re.compile(r"(ings|ing|ers|er|ed|es|s)$")


def _terms(text: str) -> set[str]:
    """Its numbers and its content words cut to a rough stem, so "charging" meets "charge" and "lockers" meets
    "locker": without it the shortlist dropped the very sentence that answered (bench/extractive.py)."""
    return numbers(text) | {_SUFFIX.sub("", word)[:5] for word in content_words(text)}


def render(quotes: Sequence[Quote]) -> str:
    """The quotes as an answer: each sentence in quotation marks with its citation marker."""
    return " ".join([INTRO, *(f"“{q.text.strip()}” [{q.source}]" for q in quotes)])
