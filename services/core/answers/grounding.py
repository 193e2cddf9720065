"""Grounding: every answer sentence is checked against the sources it cites.

The embedded model is a tiny base model that invents freely; this is the layer that keeps answers honest.
What happens to a sentence that fails is policy: `annotate` (the default) lets tokens stream as the model
writes them and sends each sentence's verdict after it (clients mark an unsupported one), `hold` sends only
sentences that passed (the strict mode: nothing unchecked reaches the user), `off` checks nothing.
A sentence is supported when every number in it occurs in its sources and it either resembles one of their
sentences (embedding cosine) or shares most of its content words with them. It is checked against the
sources it cites, or all of them when it cites none. A citation marker naming a source that was not in the
context is removed. Thresholds were calibrated on the eval set by bench/grounding.py (docs/governance.md); chat
embeds with the encoder's int8 copy, on which the threshold was measured again (`--encoder`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.core.embedding.memo import MemoEmbed

GroundingAction = Literal["annotate", "hold", "off"]
# Names the settings and policy files used before annotate/hold: remove -> hold, flag -> annotate.
LEGACY_ACTIONS = {"remove": "hold", "flag": "annotate"}
Embed = Callable[[Sequence[str]], list[list[float]]]

# Word overlap vouches only for sentences with at least this many content words: "100%" or "**€110**" share
# all their words with almost any source (measured: bench/grounding.py). Shorter ones need similarity.
MIN_OVERLAP_WORDS = 3

# A short answer ("6:30 a.m.", "Extension 4357.") is too terse to resemble any source sentence, yet is right
# when all of its words and numbers stand in the source sentence that answers the question: the one most
# similar to the question. Up to this many content words count as terse...
TERSE_WORDS = 4
# ...and that source sentence must resemble the question at least this much (MiniLM cosine), or no sentence
# is taken as answering it.
TERSE_MIN_QUESTION_SIMILARITY = 0.5

# A check may embed with a cheaper encoder (chat uses the int8 copy of the model, whose similarities differ from
# the model's by 0.02 on average and at most 0.19 on the eval set's answers: docs/governance.md). A sentence whose
# similarity lands this close to the threshold, either side, is measured again by the model itself (`confirm`),
# so its verdict is the model's. On the eval set (where it was picked: 0.1 left one verdict differing) that is one
# sentence in six, and every verdict is then the model's.
CONFIRM_MARGIN = 0.15
# ...against the few source sentences the cheaper encoder ranked highest (on the eval set every verdict is still
# the model's with three).
CONFIRM_CANDIDATES = 3

# A sentence is compared with at most this many source sentences: those sharing the most content words and
# numbers with it (a lexical shortlist before the embedding; see Grounder._candidates).
MAX_CANDIDATES = 8

# A sentence ends at . ! or ? (and any closing quote/bracket and citation markers right after it), followed by
# whitespace and an upper-case letter, a digit or an opening quote. "e.g. the" and "€40.50" do not split.
_BOUNDARY = re.compile(r"[.!?][\"')\]]*((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[\"'(]?[A-Z0-9€$£])")
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
# A sentence that may be finished: it ends as one does before _BOUNDARY sees the next one begin.
_LOOKS_FINISHED = re.compile(r"[.!?][\"')\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*$")
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
# Source chunks are often lists, tables and CSV rows: a line break ends a sentence there too.
_SOURCE_LINES = re.compile(r"\n+")
_BULLETS = " -*•\t"

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
    best_source: int | None = None  # the source holding its most similar sentence (attribution)
    terse: bool = False  # supported as a short answer found in the source sentence that answers the question

    @property
    def reason(self) -> str:
        """Why it passed or failed, for the person reading the answer."""
        if self.supported and self.terse:
            return f"found in the sentence of source [{self.best_source}] that answers the question"
        if self.supported:
            return f"supported by source [{self.best_source}]" if self.best_source else "supported by the sources"
        if not self.numbers_ok:
            return "it states a number the sources do not contain"
        if self.words == 0:
            return "it says nothing the sources could support"
        return "no source says this"


@dataclass
class GroundingResult:
    answer: str  # what reaches the user
    verdicts: list[SentenceVerdict] = field(default_factory=list)
    removed: int = 0  # held back (hold mode)
    flagged: int = 0  # shown with an unsupported verdict (annotate mode)
    invalid_citations: int = 0
    fell_back: bool = False  # no generated sentence was supported: the answer became extractive

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


def source_sentences(text: str) -> list[str]:
    """A source's sentences: split at sentence ends and at line breaks (lists, tables, CSV rows), without list
    bullets. The extractive answer picks from the same strings, so one answer embeds each of them once."""
    return [s for line in _SOURCE_LINES.split(text) for s in split_sentences(line.strip(_BULLETS)) if s]


def _terms(text: str) -> set[str]:
    return content_words(text) | numbers(text)


def content_words(text: str) -> set[str]:
    """Its words that could carry a claim: no stop words, no numbers (checked apart), no single letters
    (the pieces of "a.m." or "e.g.")."""
    return {
        w
        for w in (m.group().lower() for m in _WORD.finditer(_MARKER.sub(" ", text)))
        if w not in _STOPWORDS and len(w) > 1 and not w.isdigit()
    }


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
        action: GroundingAction = "hold",
        question: str = "",
        confirm: Embed | None = None,
    ) -> None:
        self._sources = dict(sources)
        # Each distinct text embedded once per answer, however many sentences compare with it.
        self._embed = embed if isinstance(embed, MemoEmbed) else MemoEmbed(embed)
        # The model itself, when `embed` is a cheaper encoder: near the threshold it has the last word.
        self._confirm = None if confirm is None else confirm if isinstance(confirm, MemoEmbed) else MemoEmbed(confirm)
        self.confirmed = 0  # sentences whose similarity the model measured again
        self.min_similarity, self.min_overlap, self.action = min_similarity, min_overlap, action
        self._question = question
        self._words = {n: content_words(t) for n, t in self._sources.items()}
        self._numbers = {n: numbers(t) for n, t in self._sources.items()}
        self._pieces = {n: source_sentences(text) for n, text in self._sources.items()}
        # What each source sentence says, lexically: a sentence is compared (embedded) only with the source
        # sentences it shares a content word or a number with (see _candidates).
        self._piece_terms = {n: [_terms(p) for p in pieces] for n, pieces in self._pieces.items()}
        self._answering: dict[tuple[int, ...], tuple[int, str] | None] = {}

    def _candidates(self, text: str, against: Sequence[int]) -> list[tuple[int, str]]:
        """(source, sentence) of the given sources sharing a content word or a number with `text`: at most
        MAX_CANDIDATES of them, those sharing the most.

        Only these are embedded and compared: a source sentence with no word in common with an answer sentence
        does not vouch for it in practice, and leaving it out can only lower a similarity, never raise it, so
        the check is no weaker. Embedding every sentence of every source for every answer was most of Steward's
        own CPU while vLLM decoded on the same cores (bench/llm_gateway.py --profile)."""
        terms = _terms(text)
        shared = [
            (len(terms & piece_terms), rank, n, piece)
            for n in against
            for rank, (piece, piece_terms) in enumerate(
                zip(self._pieces.get(n, []), self._piece_terms.get(n, []), strict=True)
            )
            if terms & piece_terms
        ]
        # The ones sharing the most terms (ties: in source order); the rest are as unlikely to vouch for it.
        shared.sort(key=lambda item: (-item[0], item[2], item[1]))
        return [(n, piece) for _, _, n, piece in shared[:MAX_CANDIDATES]]

    def _best(
        self, text: str, candidates: Sequence[tuple[int, str]], embed: Embed | None = None
    ) -> tuple[float, int, str] | None:
        """The highest cosine of `text` to one of `candidates` (unit vectors), with that candidate."""
        ranked = self._ranked(text, candidates, embed or self._embed)
        return ranked[0] if ranked else None

    def _ranked(self, text: str, candidates: Sequence[tuple[int, str]], embed: Embed) -> list[tuple[float, int, str]]:
        """(cosine, source, sentence) of every candidate, the most similar first."""
        if not candidates:
            return []
        vectors = embed([text, *(piece for _, piece in candidates)])
        query, rest = vectors[0], vectors[1:]
        scored = [
            (sum(a * b for a, b in zip(query, vector, strict=True)), n, piece)
            for (n, piece), vector in zip(candidates, rest, strict=True)
        ]
        return sorted(scored, reverse=True)

    def _answering_sentence(self, against: Sequence[int]) -> tuple[int, str] | None:
        """(source, sentence) of the given sources most similar to the question, if similar enough."""
        key = tuple(against)
        if key not in self._answering:
            found = self._best(self._question, self._candidates(self._question, against)) if self._question else None
            ok = found is not None and found[0] >= TERSE_MIN_QUESTION_SIMILARITY
            self._answering[key] = (found[1], found[2]) if ok and found is not None else None
        return self._answering[key]

    def _terse_answer(self, sentence: str, words: set[str], against: Sequence[int]) -> int | None:
        """The source whose question-answering sentence holds every word and number of a short answer."""
        if len(words) > TERSE_WORDS or not (words or numbers(sentence)):
            return None
        answering = self._answering_sentence(against)
        if answering is None:
            return None
        source, text = answering
        if words <= content_words(text) and numbers(sentence) <= numbers(text):
            return source
        return None

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
        similarity, best = self._similarity(sentence, against, decisive=numbers_ok)
        supported = passes(similarity, overlap, len(words), numbers_ok, self.min_similarity, self.min_overlap)
        terse = False
        if not supported and numbers_ok and (source := self._terse_answer(sentence, words, against)) is not None:
            supported, terse, best = True, True, source
        return SentenceVerdict(
            sentence, cited, invalid, supported, similarity, overlap, len(words), numbers_ok, best, terse
        )

    def _similarity(self, sentence: str, against: Sequence[int], decisive: bool) -> tuple[float, int | None]:
        """The best cosine to a sentence of the given sources, and which source holds it. When it may decide the
        verdict (`decisive`: the numbers hold) and lies within CONFIRM_MARGIN of the threshold, the model measures
        it again against the CONFIRM_CANDIDATES candidates the cheaper encoder ranked highest: fewer candidates
        can only lower the model's best similarity, never raise it, so nothing passes that the model would fail."""
        text = _MARKER.sub("", sentence)
        ranked = self._ranked(text, self._candidates(text, against), self._embed)
        found = ranked[0] if ranked else None
        if (
            found is not None
            and decisive
            and self._confirm is not None
            and abs(found[0] - self.min_similarity) < CONFIRM_MARGIN
        ):
            self.confirmed += 1
            found = self._best(text, [(n, piece) for _, n, piece in ranked[:CONFIRM_CANDIDATES]], self._confirm)
        return (found[0], found[1]) if found is not None else (0.0, None)

    def render(self, verdict: SentenceVerdict) -> str | None:
        """The sentence as the user sees it, or None when policy holds it back (hold mode, unsupported)."""
        text = strip_invalid_markers(verdict.text, set(self._sources)) if verdict.invalid else verdict.text
        if verdict.supported or self.action != "hold":
            return text
        return None

    def check(self, answer: str) -> GroundingResult:
        """The whole answer at once (bench/grounding.py): what is shown, and each sentence's verdict."""
        session = self.session()
        kept = [text for s in split_sentences(answer) if (text := session.add(s)) is not None]
        session.finish()
        return session.result(" ".join(kept))

    def session(self) -> GroundingSession:
        return GroundingSession(self)


class GroundingSession:
    """Sentence-by-sentence checking of one answer, for streaming: `add` each finished sentence, then `finish`."""

    def __init__(self, grounder: Grounder) -> None:
        self._grounder = grounder
        self._result = GroundingResult("")
        self._kept_supported = 0

    @property
    def action(self) -> GroundingAction:
        return self._grounder.action

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
        elif not verdict.supported and self._grounder.action == "annotate":
            self._result.flagged += 1
        if verdict.supported:
            self._kept_supported += 1
        return text

    def prepare(self, sentence: str) -> None:
        """Embed what checking `sentence` needs, without recording a verdict: called while the model may still
        be writing it, so that the check `add` makes once it is certainly finished finds its texts embedded
        (the grounder's memo). Safe beside `add` on another thread: it only reads, and fills the memo."""
        self._grounder.check_sentence(sentence)

    def finish(self) -> bool:
        """True when sentences were checked and none was supported: the answer should be given extractively."""
        if self._grounder.action == "off" or not self._result.verdicts or self._kept_supported:
            return False
        self._result.fell_back = True
        return True

    def result(self, answer: str) -> GroundingResult:
        self._result.answer = answer
        return self._result


def looks_finished(text: str) -> bool:
    """The text ends as a sentence does (a full stop, maybe quotes and citation markers after it); whether it is
    finished is only known once the next sentence begins (SentenceBuffer)."""
    return bool(_LOOKS_FINISHED.search(text))


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

    @property
    def pending(self) -> str:
        """What has come since the last sentence handed out: the sentence being written."""
        return self._text.strip()

    def flush(self) -> Iterator[str]:
        rest, self._text = self._text.strip(), ""
        if rest:
            yield rest
