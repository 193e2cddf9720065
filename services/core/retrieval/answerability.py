"""Whether retrieved passages can answer a question at all, beyond "they are about the same topic".

Embedding similarity says a passage is *about* the question's topic; it cannot tell "the Lisbon parking
permit" from "the Toronto parking permit", or error 720 from error 4012. On the eval set, no similarity
threshold refused more than 4% of unanswerable questions while keeping false refusals under 5%
(docs/retrieval.md). What those questions have in common is a specific term — a code, a number, a year,
a name — that none of the retrieved documents mentions. A question whose specific terms are not all found
in one retrieved document cannot be answered from them, however similar they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Tokens of a question: words, codes (ERR-4012, HR-22b, E-LDG-0999) and numbers with separators (40,000).
_TOKEN = re.compile(r"[A-Za-z0-9€$£]+(?:[-/.,'][A-Za-z0-9]+)*")
# Capitalised words that begin questions or are capitalised for other reasons than naming something.
_COMMON = frozenset(
    (
        "a",
        "an",
        "the",
        "i",
        "i'm",
        "i've",
        "i'd",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "am",
        "can",
        "could",
        "do",
        "does",
        "did",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "if",
        "my",
        "our",
        "we",
        "us",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "please",
        "hi",
        "hello",
        "hey",
        "ok",
        "okay",
        "yes",
        "no",
        "mr",
        "mrs",
        "ms",
        "dr",
    )
)


def _squash(text: str) -> str:
    """Lowercase letters and digits only, so "E-LDG-0999", "e ldg 0999" and "40,000" / "40000" compare equal."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def specific_terms(question: str) -> list[str]:
    """Codes (letters with digits: ERR-4012, HR-40, L5), years, numbers that name something ("error 720"),
    and names (capitalised words not at the start). Amounts are not: "services worth €40,000" is answered by
    a rule for "above €25,000", which does not contain the number asked about."""
    terms: list[str] = []
    previous = ""
    for position, match in enumerate(_TOKEN.finditer(question)):
        token = match.group(0).strip(".,'")
        if _is_code(token) or _is_numbered(token, previous) or _is_name(token, position):
            terms.append(token)
        previous = token.lower()
    return list(dict.fromkeys(terms))


def _is_code(token: str) -> bool:
    return (
        not token.startswith(("€", "$", "£"))
        and any(ch.isdigit() for ch in token)
        and any(ch.isalpha() for ch in token)
    )


def _is_numbered(token: str, previous: str) -> bool:
    if not token.replace(",", "").replace(".", "").isdigit():
        return False
    return bool(_YEAR.fullmatch(token)) or previous in _NUMBERED


def _is_name(token: str, position: int) -> bool:
    return position > 0 and token[:1].isupper() and len(token) > 2 and token.lower() not in _COMMON


_YEAR = re.compile(r"(19|20)\d\d")
# A bare number after one of these is an identifier, not an amount.
_NUMBERED = frozenset(
    (
        "error",
        "code",
        "form",
        "ticket",
        "room",
        "level",
        "version",
        "floor",
        "building",
        "extension",
        "ext",
        "no",
        "number",
    )
)


def uncovered_terms(question: str, documents: Iterable[Sequence[str]]) -> list[str]:
    """The question's specific terms that the best-covering document does not mention ([] when one covers all).

    `documents` holds, per retrieved document, the texts seen of it (title, headings, passages)."""
    terms = [t for t in specific_terms(question) if _squash(t)]
    if not terms:
        return []
    best: list[str] | None = None
    for texts in documents:
        haystack = _squash(" ".join(texts))
        missing = [t for t in terms if _squash(t) not in haystack]
        if best is None or len(missing) < len(best):
            best = missing
        if not best:
            return []
    return terms if best is None else best
