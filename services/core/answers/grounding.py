"""Grounding: every answer sentence is checked against the sources it cites before it reaches the user.

The embedded model is a tiny base model that invents freely; this is the layer that keeps answers honest.
A sentence is supported when every number in it occurs in its sources and it either resembles one of their
sentences (embedding cosine) or shares most of its content words with them. It is checked against the
sources it cites, or all of them when it cites none. A citation marker naming a source that was not in the
context is removed. Thresholds were calibrated on the eval set by bench/grounding.py (docs/governance.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

GroundingAction = Literal["remove", "flag", "off"]
Embed = Callable[[Sequence[str]], list[list[float]]]

FLAG = "⚠ unsupported: "
# Word overlap vouches only for sentences with at least this many content words: "100%" or "**€110**" share
# all their words with almost any source (measured: bench/grounding.py). Shorter ones need similarity.
MIN_OVERLAP_WORDS = 3

# A sentence ends at . ! or ? (and any closing quote/bracket and citation markers right after it), followed by
# whitespace and an upper-case letter, a digit or an opening quote. "e.g. the" and "€40.50" do not split.
_BOUNDARY = re.compile(r"[.!?][\"')\]]*((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[\"'(]?[A-Z0-9€$£])")
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Source chunks are often lists, tables and CSV rows: a line break ends a sentence there too.
_SOURCE_LINES = re.compile(r"\n+")

# Words that carry no claim of their own: overlap is measured on the rest.
_STOPWORD_TEXT = """
    a an the and or but if then else of to in on at by for with from as is are was were be been being it its
    this that these those there here they them their you your we our us i me my he she his her not no yes do does
    did done can could may might must shall should will would have has had per than so such also only any all
    each every other into onto about over under up down out off more most less very just what which who whom
    whose when where why how one"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class SentenceVerdict:
    text: str  # as the model wrote it
    cited: list[int]  # valid source numbers it cites
    invalid: list[int]  # source numbers it cites that were not in the context (removed)
    supported: bool
    similarity: float  # best cosine to a sentence of the sources it was checked against
    overlap: float  # share of its content words found in those sources
    words: int  # how many content words it has
    numbers_ok: bool  # every number in it occurs in those sources


@dataclass
class GroundingResult:
    answer: str  # what reaches the user
    verdicts: list[SentenceVerdict] = field(default_factory=list)
    removed: int = 0
    flagged: int = 0
    invalid_citations: int = 0
    fell_back: bool = False  # nothing supported was left: the answer became "I don't know"

    @property
    def unsupported(self) -> int:
        return sum(not v.supported for v in self.verdicts)

    def summary(self) -> dict[str, int | bool]:
        return {
            "checked": len(self.verdicts),
            "unsupported": self.unsupported,
            "removed": self.removed,
            "flagged": self.flagged,
            "invalid_citations": self.invalid_citations,
            "fell_back": self.fell_back,
        }


def split_sentences(text: str) -> list[str]:
    """The sentences of an answer, each with the citation markers that follow its full stop."""
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1)  # the markers after the full stop belong to this sentence
        sentences.append(text[start:end].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def content_words(text: str) -> set[str]:
    return {w for w in (m.group().lower() for m in _WORD.finditer(_MARKER.sub(" ", text))) if w not in _STOPWORDS}


def numbers(text: str) -> set[str]:
    return {m.group().replace(",", "") for m in _NUMBER.finditer(_MARKER.sub(" ", text))}


def cited_sources(sentence: str) -> list[int]:
    return [int(n) for m in _MARKER.finditer(sentence) for n in m.group(1).split(",")]


def strip_invalid_markers(sentence: str, valid: set[int]) -> str:
    """Drops source numbers that were not in the context; a marker left empty goes entirely."""

    def keep(match: re.Match[str]) -> str:
        kept = [n.strip() for n in match.group(1).split(",") if int(n) in valid]
        return f" [{', '.join(kept)}]" if kept else ""

    return _MARKER.sub(keep, sentence).strip()


def passes(
    similarity: float, overlap: float, words: int, numbers_ok: bool, min_similarity: float, min_overlap: float
) -> bool:
    """The rule: its numbers occur in its sources, and it resembles a source sentence or shares their words."""
    by_words = words >= MIN_OVERLAP_WORDS and overlap >= min_overlap
    return numbers_ok and (similarity >= min_similarity or by_words)


class Grounder:
    """Checks the sentences of one answer against that answer's numbered sources.

    Source sentences are embedded once, on first use, so a streamed answer pays for them once."""

    def __init__(
        self,
        sources: Mapping[int, str],
        embed: Embed,
        min_similarity: float,
        min_overlap: float,
        action: GroundingAction = "remove",
    ) -> None:
        self._sources = dict(sources)
        self._embed = embed
        self.min_similarity, self.min_overlap, self.action = min_similarity, min_overlap, action
        self._words = {n: content_words(t) for n, t in self._sources.items()}
        self._numbers = {n: numbers(t) for n, t in self._sources.items()}
        self._sentences: dict[int, list[list[float]]] | None = None

    def _source_vectors(self) -> dict[int, list[list[float]]]:
        if self._sentences is None:
            pieces = {
                n: [s for line in _SOURCE_LINES.split(text) for s in split_sentences(line)]
                for n, text in self._sources.items()
            }
            flat = [s for n in pieces for s in pieces[n]]
            vectors = iter(self._embed(flat)) if flat else iter([])
            self._sentences = {n: [next(vectors) for _ in pieces[n]] for n in pieces}
        return self._sentences

    def check_sentence(self, sentence: str) -> SentenceVerdict:
        marked = cited_sources(sentence)
        cited = sorted({n for n in marked if n in self._sources})
        invalid = [n for n in marked if n not in self._sources]
        against = cited or sorted(self._sources)
        words = content_words(sentence)
        known = set().union(*(self._words[n] for n in against)) if against else set()
        # A sentence with no content words ("Yes.") has nothing the sources could vouch for by wording.
        overlap = len(words & known) / len(words) if words else 0.0
        numbers_ok = numbers(sentence) <= set().union(*(self._numbers[n] for n in against)) if against else False
        similarity = self._similarity(sentence, against)
        supported = passes(similarity, overlap, len(words), numbers_ok, self.min_similarity, self.min_overlap)
        return SentenceVerdict(sentence, cited, invalid, supported, similarity, overlap, len(words), numbers_ok)

    def _similarity(self, sentence: str, against: Sequence[int]) -> float:
        vectors = self._source_vectors()
        candidates = [v for n in against for v in vectors.get(n, [])]
        if not candidates:
            return 0.0
        query = self._embed([_MARKER.sub("", sentence)])[0]
        return max(sum(a * b for a, b in zip(query, v, strict=True)) for v in candidates)  # normalised vectors

    def render(self, verdict: SentenceVerdict) -> str | None:
        """The sentence as the user sees it, or None when policy drops it."""
        text = strip_invalid_markers(verdict.text, set(self._sources)) if verdict.invalid else verdict.text
        if verdict.supported or self.action == "off":
            return text
        return None if self.action == "remove" else FLAG + text

    def check(self, answer: str, fallback: str) -> GroundingResult:
        """The whole answer at once (JSON chat); `fallback` is the answer when no supported sentence remains."""
        session = self.session(fallback)
        kept = [text for s in split_sentences(answer) if (text := session.add(s)) is not None]
        tail = session.finish()
        return session.result(" ".join(kept + ([tail] if tail else [])))

    def session(self, fallback: str) -> GroundingSession:
        return GroundingSession(self, fallback)


class GroundingSession:
    """Sentence-by-sentence checking of one answer, for streaming: `add` each finished sentence, then `finish`."""

    def __init__(self, grounder: Grounder, fallback: str) -> None:
        self._grounder, self._fallback = grounder, fallback
        self._result = GroundingResult("")
        self._kept_supported = 0

    @property
    def last_verdict(self) -> SentenceVerdict:
        """The verdict on the sentence `add` checked last."""
        return self._result.verdicts[-1]

    def add(self, sentence: str) -> str | None:
        """The sentence as the user sees it, or None when policy drops it."""
        verdict = self._grounder.check_sentence(sentence)
        self._result.verdicts.append(verdict)
        self._result.invalid_citations += len(verdict.invalid)
        text = self._grounder.render(verdict)
        if text is None:
            self._result.removed += 1
        elif not verdict.supported and self._grounder.action == "flag":
            self._result.flagged += 1
        if verdict.supported:
            self._kept_supported += 1
        return text

    def finish(self) -> str | None:
        """What to send last: under `remove`, the fallback when sentences were checked and none was left."""
        if self._grounder.action != "remove" or not self._result.verdicts or self._kept_supported:
            return None
        self._result.fell_back = True
        return self._fallback

    def result(self, answer: str) -> GroundingResult:
        self._result.answer = answer
        return self._result


class SentenceBuffer:
    """Collects streamed text and hands out sentences once they are certainly complete (the next one began)."""

    def __init__(self) -> None:
        self._text = ""

    def feed(self, delta: str) -> Iterator[str]:
        self._text += delta
        start = 0
        for match in _BOUNDARY.finditer(self._text):
            end = match.end(1)
            if sentence := self._text[start:end].strip():
                yield sentence
            start = match.end()
        self._text = self._text[start:]

    def flush(self) -> Iterator[str]:
        rest, self._text = self._text.strip(), ""
        if rest:
            yield rest
