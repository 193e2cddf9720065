"""What every parser produces, so chunking never needs to know the format."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Location = Mapping[str, str | int]


@dataclass(frozen=True)
class Block:
    """A run of paragraphs ("text") or a table rendered one row per line ("table").

    `header` is a table's rendered header line, repeated at the top of each piece when the table is split.
    """

    kind: Literal["text", "table"]
    text: str
    header: str = ""


@dataclass(frozen=True)
class Section:
    """The blocks under one heading path, at one place in the file (page, slide, sheet, attachment)."""

    heading_path: tuple[str, ...]
    blocks: tuple[Block, ...]
    location: Location = field(default_factory=dict)

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    sections: list[Section]


@dataclass(frozen=True)
class ParseLimits:
    """Caps that keep one hostile or enormous upload from exhausting the worker."""

    max_pdf_pages: int = 5000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_spreadsheet_cells: int = 2_000_000
    max_attachment_depth: int = 2


# A format parser returns a raw title (may be "") and its sections; the dispatcher finishes both.
RawDocument = tuple[str, list[Section]]
NestedParser = Callable[[bytes, str, str, ParseLimits, int], ParsedDocument]


@dataclass(frozen=True)
class ParseContext:
    """What a format parser may need beyond the bytes: limits, and for email the way to parse attachments."""

    filename: str
    limits: ParseLimits
    depth: int
    parse_nested: NestedParser
