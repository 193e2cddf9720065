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
# At most this many sentences, each within SIMILARITY_MARGIN of the best one's similarity to the question. Both
# (and VALUE_BONUS below) were picked on the `tune` half of the eval set by bench/extractive.py; the answering
# sentence is often only the third to sixth most similar, so four within 0.2 holds it more often than three
# within 0.12 (22 -> 27 of 45 tune questions).
MAX_SENTENCES = 4
SIMILARITY_MARGIN = 0.2
MIN_WORDS = 3
MAX_CANDIDATES = 12
_TABLE_NOISE = re.compile(r"^[\s|:\-]*$")

# A question asking for an amount, a duration, a date or a time is answered by a sentence that states one: such
# sentences get VALUE_BONUS on their similarity. The patterns are English question forms and units of time, not
# anything of the eval set's; the bonus was picked on half of the eval set (bench/extractive.py's `tune`).
_ASKS_FOR_VALUE = re.compile(
    r"\b(how (much|many|long|far|often|soon|early|late|old|big|large|high|fast)|when|what time|"
    r"which (day|days|date|dates|month|months|year|years|time|times)|"
    r"cost|costs|price|prices|fee|fees|amount|maximum|minimum|limit|rate|deadline|budget|bonus|allowance)\b",
    re.IGNORECASE,
)
_STATES_VALUE = re.compile(
    r"\d|\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mondays|tuesdays|wednesdays|thursdays|"
    r"fridays|saturdays|sundays|january|february|march|april|may|june|july|august|september|october|november|"
    r"december|daily|weekly|monthly|yearly|annually|once|twice|noon|midnight|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand)\b",
    re.IGNORECASE,
)
VALUE_BONUS = 0.15
# A quoted line that only introduces what follows (it ends with a colon) is quoted with the line after it.
_INTRODUCES = re.compile(r":\**\s*$")


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
    wants_value = bool(_ASKS_FOR_VALUE.search(question))
    # Only the sentences sharing the most words and numbers with the question are embedded (the one that answers
    # it nearly always shares some); when none shares any, all of them are.
    asked = _terms(question)
    shared = [len(asked & _terms(sentence)) for _, sentence in every]
    kept = list(range(len(every)))
    if any(shared):
        ranked = sorted(kept, key=lambda i: (-shared[i], i))[:MAX_CANDIDATES]
        kept = sorted(i for i in ranked if shared[i])
    vectors = embed([question] + [every[i][1] for i in kept])
    query, rest = vectors[0], vectors[1:]
    scored = [
        (i, sum(a * b for a, b in zip(query, vector, strict=True)) + _value_bonus(wants_value, every[i][1]))
        for i, vector in zip(kept, rest, strict=True)
    ]
    best = max(similarity for _, similarity in scored)
    chosen = sorted((s for s in scored if s[1] >= best - SIMILARITY_MARGIN), key=lambda s: -s[1])[:MAX_SENTENCES]
    quotes: list[Quote] = []
    for i, similarity in sorted(chosen):  # as the sources rank them, best source first
        number, sentence = every[i]
        following = every[i + 1] if i + 1 < len(every) else None
        if _INTRODUCES.search(sentence) and following is not None and following[0] == number:
            sentence = f"{sentence} {following[1]}"
        if all(sentence not in q.text and q.text not in sentence for q in quotes):
            quotes.append(Quote(sentence, number, similarity))
    return quotes


_SUFFIX = re.compile(r"(ings|ing|ers|er|ed|es|s)$")


def _terms(text: str) -> set[str]:
    """Its numbers and its content words cut to a rough stem, so "charging" meets "charge" and "lockers" meets
    "locker": without it the shortlist dropped the very sentence that answered (bench/extractive.py)."""
    return numbers(text) | {_SUFFIX.sub("", word)[:5] for word in content_words(text)}


def _value_bonus(wants_value: bool, sentence: str) -> float:
    return VALUE_BONUS if wants_value and _STATES_VALUE.search(sentence) else 0.0


def render(quotes: Sequence[Quote]) -> str:
    """The quotes as an answer: each sentence in quotation marks with its citation marker."""
    return " ".join([INTRO, *(f"“{q.text.strip()}” [{q.source}]" for q in quotes)])
