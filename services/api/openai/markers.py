"""Citation markers renumbered while the answer streams: the model cites the prompt's source numbers; a reader
is shown them numbered by first use ([1] first), the way Steward's finished answers number their citations."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A marker that may still be arriving at the end of what came so far: "[", "[1", "[1, 2".
OPEN_MARKER = re.compile(r"\[[\d,\s]*$")
MAX_HELD = 16


class MarkerRenumberer:
    """Feed it the raw text as it streams; it returns what can be shown now, markers renumbered."""

    def __init__(self, known: set[int]) -> None:
        self.known = known
        self.numbers: dict[int, int] = {}  # prompt number -> number shown
        self._held = ""

    def _renumber(self, match: re.Match[str]) -> str:
        shown = []
        for raw in (int(n) for n in match.group(1).split(",")):
            if raw not in self.known:
                continue  # a source the prompt never had: no marker rather than a false one
            shown.append(self.numbers.setdefault(raw, len(self.numbers) + 1))
        return "".join(f"[{n}]" for n in dict.fromkeys(shown))

    def feed(self, text: str) -> str:
        pending = self._held + text
        tail = OPEN_MARKER.search(pending)
        if tail and len(pending) - tail.start() <= MAX_HELD:
            self._held, pending = pending[tail.start() :], pending[: tail.start()]
        else:
            self._held = ""
        return MARKER.sub(self._renumber, pending)

    def flush(self) -> str:
        rest, self._held = self._held, ""
        return MARKER.sub(self._renumber, rest)
