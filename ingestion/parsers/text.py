"""Text clean-up and block building shared by every format."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingestion.parsers.model import Block, Location, Section

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
# A heading is repeated in front of every chunk it covers, so an absurdly long one is cut.
MAX_HEADING_CHARS = 150


def normalise(text: str) -> str:
    """Unify newlines, drop NULs/control characters and lone surrogates, collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").translate({0x0D: 0x0A, 0x0B: 0x0A, 0x0C: 0x0A, 0x2028: 0x0A, 0x2029: 0x0A})
    text = _CONTROL.sub("", text).encode("utf-8", "replace").decode("utf-8")
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    return _BLANK_RUNS.sub("\n\n", text).strip()


def one_line(text: str) -> str:
    """Text on a single line with whitespace collapsed, for titles, headings and table cells."""
    text = " ".join(text.split())
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def heading_text(text: str) -> str:
    heading = one_line(text)
    if len(heading) <= MAX_HEADING_CHARS:
        return heading
    return heading[:MAX_HEADING_CHARS].rsplit(" ", 1)[0] + "…"


def table_block(rows: Sequence[Sequence[str]], *, has_header: bool) -> Block | None:
    """Rows as "a | b | c" lines; a one-row or one-column "table" is just text (usually a layout box)."""
    cells = [[one_line(cell) for cell in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return None
    lines = [" | ".join(row) for row in cells]
    if len(cells) == 1 or max(len(row) for row in cells) == 1:
        return Block("text", "\n".join(lines))
    return Block("table", "\n".join(lines), lines[0] if has_header else "")


class Outline:
    """Collects paragraphs and tables under a stack of headings; each heading with content becomes a Section."""

    def __init__(self, location: Location | None = None) -> None:
        self._path: list[tuple[int, str]] = []
        self._location: Location = dict(location or {})
        self._paragraphs: list[str] = []
        self._blocks: list[Block] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        """Open a heading at `level` (0 = document title, 1 = top heading); it closes headings at or below it."""
        heading = heading_text(text)
        if not heading:
            return
        self._close()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, heading))

    def set_path(self, path: tuple[str, ...], location: Location | None = None) -> None:
        """Start a section with a known heading path (PDF outline entries, slides, sheets)."""
        self._close()
        self._path = [(level, heading_text(h)) for level, h in enumerate(path, start=1)]
        if location is not None:
            self._location = dict(location)

    def paragraph(self, text: str) -> None:
        self._paragraphs.append(text)

    def block(self, block: Block | None) -> None:
        if block is not None:
            self._flush_text()
            self._blocks.append(block)

    def finish(self) -> list[Section]:
        self._close()
        return self._sections

    def _flush_text(self) -> None:
        text = normalise("\n\n".join(self._paragraphs))
        self._paragraphs.clear()
        if text:
            self._blocks.append(Block("text", text))

    def _close(self) -> None:
        self._flush_text()
        if self._blocks:
            path = tuple(heading for _, heading in self._path)
            self._sections.append(Section(path, tuple(self._blocks), self._location))
        self._blocks = []
