"""Split a parsed document into overlapping, heading-scoped chunks sized for embedding."""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass

from ingestion.parsers import ParsedDocument


@dataclass(frozen=True)
class Chunk:
    """A verbatim slice of one section; text_hash lets re-ingestion skip unchanged chunks."""

    index: int
    heading: str
    text: str
    text_hash: str


# Places a chunk may end (each is the offset where the next piece starts), best first.
_BOUNDARIES = [
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"""[.!?\u2026\u3002]["')\]\u201d\u2019]*\s+"""),  # sentence
    re.compile(r"\s+"),  # word
]


def _boundary_offsets(text: str) -> list[list[int]]:
    return [[m.end() for m in pattern.finditer(text)] for pattern in _BOUNDARIES]


def _latest_in(offsets: list[int], lo: int, hi: int) -> int | None:
    """The largest offset in [lo, hi], if any."""
    i = bisect.bisect_right(offsets, hi)
    return offsets[i - 1] if i and offsets[i - 1] >= lo else None


def _earliest_in(offsets: list[int], lo: int, hi: int) -> int | None:
    """The smallest offset in [lo, hi], if any."""
    i = bisect.bisect_left(offsets, lo)
    return offsets[i] if i < len(offsets) and offsets[i] <= hi else None


def _split_section(text: str, size: int, overlap: int) -> list[str]:
    """Character spans of `text`, each at most `size` long, ending at the best boundary available."""
    offsets = _boundary_offsets(text)
    pieces: list[str] = []
    start, fresh = 0, 0  # `fresh` is where text not yet in any chunk begins
    while True:
        if len(text) - start <= size:
            end = len(text)
        else:
            # A boundary too close to the start would make a runt chunk, so look at the far part first.
            lo, hi = max(fresh + 1, start + size // 3), start + size
            found = (_latest_in(level, lo, hi) for level in offsets)
            end = next((o for o in found if o is not None), hi)
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        if end >= len(text):
            return pieces
        # Overlap starts at the earliest sentence (else word) start within the last `overlap` characters.
        lo = max(end - overlap, start + 1)
        starts = (_earliest_in(level, lo, end - 1) for level in offsets[2:])
        start = next((o for o in starts if o is not None), lo) if overlap else end
        fresh = end


def chunk_document(doc: ParsedDocument, size_chars: int, overlap_chars: int) -> list[Chunk]:
    """Chunks of at most size_chars that never cross sections; deterministic so re-ingestion is idempotent."""
    if not 0 <= overlap_chars < size_chars:
        raise ValueError(f"need size_chars > overlap_chars >= 0, got {size_chars} and {overlap_chars}")
    chunks: list[Chunk] = []
    for section in doc.sections:
        for piece in _split_section(section.text, size_chars, overlap_chars):
            digest = hashlib.sha256(piece.encode("utf-8")).hexdigest()
            chunks.append(Chunk(len(chunks), section.heading, piece, digest))
    return chunks
