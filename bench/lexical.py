"""Words of a question or a passage, for the answerability probes: stop words out, a crude suffix stem."""

from __future__ import annotations

import re

# Words that carry no topic: left out of word coverage.
STOP = frozenset(
    """
    a an the of to in on at for by with from and or is are was were be been
    am do does did i me my we our you your it its this that these those what which who
    whom whose when where why how can could should would will shall may might must if there their they them
    as about into than then so not no yes any all some each per up out over under after before
    get got have has had just also only very much many more most other such own same too here please
    """.split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z][a-z0-9'-]+")


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Content words, lowercased and stemmed, in order (repeats kept)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOP and len(w) >= 3]
