"""Split a parsed document into chunks sized in the embedding model's tokens, following its structure.

Chunks never cross sections, so a chunk's heading and location (page, slide, sheet) are exact. Within a
section whole blocks are packed greedily; a table that fits stays whole, a bigger one is split between
rows with its header repeated; long text is cut at the best boundary (paragraph > line > sentence > word)
and consecutive text chunks overlap. The same input always gives the same chunks, so content hashes
make re-ingestion incremental.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ingestion.parsers import Block, ParsedDocument
from ingestion.tokens import TokenCounter
from services.core.embedding.context import embedding_prefix


@dataclass(frozen=True)
class Chunk:
    """A piece of one section; text_hash lets re-ingestion skip unchanged chunks."""

    index: int
    heading: str
    text: str
    location: Mapping[str, str | int]
    text_hash: str


# Places a chunk may end (each is the offset where the next piece starts), best first.
_BOUNDARIES = [
    re.compile(r"\n[ \t]*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"""[.!?;:\u2026\u3002]["')\]\u201d\u2019]*\s+"""),  # sentence (or clause)
    re.compile(r"\s+"),  # word
]
_SENTENCE, _WORD = 2, 3


def _latest_in(offsets: list[int], lo: int, hi: int) -> int | None:
    """The largest offset in [lo, hi], if any."""
    i = bisect.bisect_right(offsets, hi)
    return offsets[i - 1] if i and offsets[i - 1] >= lo else None


def _earliest_in(offsets: list[int], lo: int, hi: int) -> int | None:
    """The smallest offset in [lo, hi], if any."""
    i = bisect.bisect_left(offsets, lo)
    return offsets[i] if i < len(offsets) and offsets[i] <= hi else None


class _Text:
    """A text tokenised once; token budgets become character positions through the token start offsets."""

    def __init__(self, text: str, starts: list[int]) -> None:
        self.text = text
        self.starts = starts
        self.size = len(starts)

    @classmethod
    def of(cls, text: str, tokens: TokenCounter) -> _Text:
        return cls(text, [start for start, _ in tokens.spans(text)])

    def part(self, start: int, end: int) -> _Text:
        """text[start:end] with its token starts, without tokenising again."""
        lo, hi = bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)
        return _Text(self.text[start:end], [s - start for s in self.starts[lo:hi]])

    def tokens_in(self, start: int, end: int) -> int:
        return bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)


class _Section:
    """Cuts one section into chunk texts, each at most `budget` tokens."""

    def __init__(self, tokens: TokenCounter, budget: int, overlap: int, separators: tuple[int, int]) -> None:
        self.tokens, self.budget, self.overlap = tokens, budget, overlap
        # Tokens a blank line and a line break cost when pieces are joined (none for WordPiece).
        self.paragraph_sep, self.line_sep = separators
        self.done: list[str] = []
        self.parts: list[str] = []
        self.used = 0

    # --- the chunk being filled ---------------------------------------------------------------

    def room(self) -> int:
        return self.budget - self.used - (self.paragraph_sep if self.parts else 0)

    def add(self, text: str, size: int) -> None:
        self.used += size + (self.paragraph_sep if self.parts else 0)
        self.parts.append(text)

    def flush(self) -> None:
        if self.parts:
            self.done.append("\n\n".join(self.parts))
        self.parts, self.used = [], 0

    # --- blocks -------------------------------------------------------------------------------

    def run(self, blocks: Sequence[Block]) -> list[str]:
        run: list[str] = []
        for block in blocks:
            if block.kind == "table":
                if run:
                    self.text_run("\n\n".join(run))
                    run = []
                self.table(block)
            elif block.text.strip():
                run.append(block.text.strip())
        if run:
            self.text_run("\n\n".join(run))
        self.flush()
        return self.done

    def table(self, block: Block) -> None:
        text = _Text.of(block.text.strip(), self.tokens)
        if text.size <= self.room():
            self.add(text.text, text.size)
            return
        self.flush()
        if text.size <= self.budget:
            self.add(text.text, text.size)  # a new chunk rather than a cut table
            return
        for piece, size in self.table_pieces(text, block.header.strip()):
            self.flush()
            self.add(piece, size)

    def table_pieces(self, table: _Text, header: str) -> Iterator[tuple[str, int]]:
        """Runs of whole rows, each under the header line; a single over-long row is cut like text."""
        lines, start = [], 0
        for line in table.text.split("\n"):
            lines.append((start, start + len(line)))
            start += len(line) + 1
        cost = self.tokens.count(header) + self.line_sep if header else 0
        if cost > self.budget // 2:
            header, cost = "", 0  # a header that long would crowd out the rows: it stays an ordinary row
        if header and table.text.split("\n", 1)[0].strip() == header:
            lines = lines[1:]  # the header line is repeated on every piece, the first included
        prefix = f"{header}\n" if header else ""
        rows: list[str] = []
        used = cost
        for line_start, line_end in lines:
            size = table.tokens_in(line_start, line_end)
            if not size:
                continue
            if rows and used + self.line_sep + size > self.budget:
                yield prefix + "\n".join(rows), used
                rows, used = [], cost
            if cost + size > self.budget:  # one row longer than a chunk
                row = table.part(line_start, line_end)
                for s, e in self.cut(row, self.budget - cost, self.budget - cost, 0):
                    yield prefix + row.text[s:e].strip(), cost + row.tokens_in(s, e)
                continue
            used += size + (self.line_sep if rows else 0)
            rows.append(table.text[line_start:line_end])
        if rows:
            yield prefix + "\n".join(rows), used

    def text_run(self, text: str) -> None:
        run = _Text.of(text, self.tokens)
        if run.size <= self.room():
            self.add(text, run.size)
            return
        first = self.room()
        if first < self.budget // 3:
            self.flush()  # too little room left to be worth filling
            first = self.budget
        ranges = self.cut(run, first, self.budget, self.overlap)
        for i, (start, end) in enumerate(ranges):
            if i:
                self.flush()
            self.add(text[start:end].strip(), run.tokens_in(start, end))

    # --- cutting text -------------------------------------------------------------------------

    def cut(self, run: _Text, first: int, budget: int, overlap: int) -> list[tuple[int, int]]:
        """Character ranges of `run`: the first at most `first` tokens, the others `budget`, overlapping."""
        text, starts, n = run.text, run.starts, run.size
        offsets = [[m.end() for m in pattern.finditer(text)] for pattern in _BOUNDARIES]
        ranges: list[tuple[int, int]] = []
        start, t, fresh, cap = 0, 0, 0, first  # t: first token of this piece; fresh: first token in no piece yet
        while t < n:
            if n - t <= cap:
                end = len(text)
            else:
                # A boundary too close to the start would make a runt chunk, so look at the far part first.
                hi = starts[t + cap]  # ending here keeps exactly `cap` tokens
                lo = max(starts[fresh] + 1, starts[t + cap // 3])
                found = (_latest_in(level, lo, hi) for level in offsets)
                end = next((o for o in found if o is not None), hi)
            end = self.fit(run, start, end, cap)
            ranges.append((start, end))
            fresh = bisect.bisect_left(starts, end)
            if fresh >= n:
                break
            start, cap = end, budget
            if overlap:
                # Overlap starts at the earliest sentence (else word) start within the last `overlap` tokens.
                lo = starts[max(fresh - overlap, t + 1)]
                begins = (_earliest_in(offsets[level], lo, end - 1) for level in (_SENTENCE, _WORD))
                start = next((o for o in begins if o is not None), end)
            t = bisect.bisect_left(starts, start)
        return ranges

    def fit(self, run: _Text, start: int, end: int, cap: int) -> int:
        """Cuts inside a word may tokenise differently on their own: re-count those rare pieces and shrink."""
        text = run.text
        if (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end - 1].isspace()):
            return end  # whitespace on both sides: the piece's tokens are exactly the spans inside it
        lowest = bisect.bisect_left(run.starts, start) + 1  # keep at least one token
        for _ in range(8):
            excess = self.tokens.count(text[start:end].strip()) - cap
            keep = bisect.bisect_left(run.starts, end) - excess
            if excess <= 0 or keep < lowest:
                return end
            end = run.starts[keep]
        return end


def chunk_document(doc: ParsedDocument, tokens: TokenCounter, size_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Chunks whose embedding text (title / heading + text) fits in size_tokens; deterministic."""
    if not 0 <= overlap_tokens < size_tokens:
        raise ValueError(f"need size_tokens > overlap_tokens >= 0, got {size_tokens} and {overlap_tokens}")
    if size_tokens > tokens.max_tokens:
        raise ValueError(
            f"size_tokens={size_tokens} is more than the embedding model reads ({tokens.max_tokens} tokens)"
        )
    chunks: list[Chunk] = []
    separators = tokens.count("\n\n"), tokens.count("\n")
    budgets: dict[str, int] = {}  # per heading: a PDF's pages often share one
    for section in doc.sections:
        if section.heading not in budgets:
            context = tokens.count(embedding_prefix(doc.title, section.heading)) + 1  # + the "\n" before the text
            budgets[section.heading] = max(size_tokens - context, size_tokens // 2)
        budget = budgets[section.heading]
        cutter = _Section(tokens, budget, min(overlap_tokens, budget // 2), separators)
        for text in filter(None, cutter.run(section.blocks)):
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            chunks.append(Chunk(len(chunks), section.heading, text, section.location, digest))
    return chunks
