"""Citations that point: one per document, numbered by first use, every marker resolving and every citation used.

The prompt numbers sources per document in the order they entered the conversation; the model cites those
numbers, or none. The book rewrites each finished sentence: markers naming a source that was not in the context
go, the rest are renumbered in the order the answer first uses them, and a supported sentence that cites
nothing gets the marker of the source that supports it (its best-matching sentence: grounding's attribution).
The answer's citations are then exactly the documents its markers name, in that order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.core.vectorstore.port import ScoredChunk

_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_TRAILING = re.compile(r"([.!?…]+[\"')\]]*)\s*$")


@dataclass(frozen=True)
class CitableDocument:
    """A document the model may cite, under the number the prompt gave it."""

    number: int
    document_id: str
    title: str
    passages: tuple[ScoredChunk, ...]  # what the model was given of it
    similarity: float = 0.0  # its best passage's cosine to the question (0 for one quoted in an earlier turn)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.passages)


class CitationBook:
    """Renumbers one answer's citations by first use (not thread-safe: one answer, in order)."""

    def __init__(self, documents: Mapping[int, CitableDocument]) -> None:
        self._documents = dict(documents)
        self._final: dict[int, int] = {}  # prompt number -> number in the answer

    def _number(self, prompt_number: int) -> int:
        if prompt_number not in self._final:
            self._final[prompt_number] = len(self._final) + 1
        return self._final[prompt_number]

    def final_number(self, prompt_number: int | None) -> int | None:
        """The answer's number for a source, if the answer has used it."""
        return None if prompt_number is None else self._final.get(prompt_number)

    def rewrite(self, sentence: str, attributed: int | None = None) -> tuple[str, list[int]]:
        """The sentence with its markers in the answer's numbering, and the numbers it cites. `attributed` is the
        source that supports it, marked when the sentence cites nothing valid."""
        cited: list[int] = []

        def renumber(match: re.Match[str]) -> str:
            valid = [int(n) for n in match.group(1).split(",") if int(n) in self._documents]
            numbers = [self._number(n) for n in dict.fromkeys(valid)]
            cited.extend(n for n in numbers if n not in cited)
            return f" [{', '.join(str(n) for n in numbers)}]" if numbers else ""

        text = _MARKER.sub(renumber, sentence).strip()
        if not cited and attributed is not None and attributed in self._documents:
            number = self._number(attributed)
            cited.append(number)
            text = _attach(text, number)
        return text, cited

    def citations(self) -> list[tuple[int, CitableDocument]]:
        """The documents the answer cites, in the order it first cites them."""
        return sorted(((final, self._documents[n]) for n, final in self._final.items()), key=lambda x: x[0])


def _attach(sentence: str, number: int) -> str:
    """A marker placed before the sentence's closing punctuation ("… at 7 [1].")."""
    match = _TRAILING.search(sentence)
    if match is None:
        return f"{sentence} [{number}]"
    return f"{sentence[: match.start()]} [{number}]{match.group(1)}"


def locations(passages: Sequence[ScoredChunk]) -> list[dict[str, str | int]]:
    """Where in the document the passages are: each passage's section (heading path) and page, slide, sheet or
    attachment, without repeats."""
    found: list[dict[str, str | int]] = []
    for passage in passages:
        place: dict[str, str | int] = {}
        if passage.heading:
            place["section"] = passage.heading
        place.update(passage.location)
        if place and place not in found:
            found.append(place)
    return found
