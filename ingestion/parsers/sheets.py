"""XLSX and CSV: each row becomes one line that names its columns ("Region: North; Quarter: Q3; Revenue: 1200")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from ingestion.parsers.model import Block, Location, ParseContext, RawDocument, Section
from ingestion.parsers.text import one_line
from services.core.errors import DocumentTooLarge
from services.core.formats import decode_text

# Rows read before deciding which row is the header (leading one-cell rows are captions above the table).
_LOOKAHEAD_ROWS = 10
_NUMERIC = re.compile(r"[-+(]?[$€£¥]?\s*\d[\d\s,.'%:/()-]*[a-zA-Z%]{0,3}\)?")
_SNIFF_CHARS = 64 * 1024
_SNIFF_LINES = 50
_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = re.compile(r'"[^"]*"')


class _CellBudget:
    """Counts cells across the whole workbook and stops reading at the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, cells: int, where: str) -> None:
        self.used += cells
        if self.used > self.limit:
            raise DocumentTooLarge(
                f"the spreadsheet has more than {self.limit:,} cells (reading stopped at {where}); "
                f"the limit is {self.limit:,}"
            )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return one_line(str(value))


Row = tuple[list[str], Sequence[object] | None]  # cell texts, and the typed values when the format has types


def _rows(raw: Iterable[Sequence[object]], budget: _CellBudget, where: str, *, typed: bool) -> Iterator[Row]:
    """Non-empty rows as trimmed lists of cell texts."""
    for number, row in enumerate(raw, start=1):
        budget.spend(len(row), f"{where}, row {number:,}")
        cells = [_cell_text(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            yield cells, (row if typed else None)


def _looks_like_header(cells: list[str], typed: Sequence[object] | None) -> bool:
    filled = [cell for cell in cells if cell]
    if len(filled) < min(2, len(cells)) or len(filled) < len(cells):
        return False
    if typed is not None:  # XLSX knows its types: a header row is all text
        return all(isinstance(value, str) for value in typed if value is not None)
    return not any(_NUMERIC.fullmatch(cell) for cell in filled)


def _records(rows: Iterator[Row]) -> list[Block]:
    """Caption rows as text, then one "Name: value; ..." line per row, all lines in one table block."""
    head: list[Row] = []
    for row in rows:
        head.append(row)
        if len(head) >= _LOOKAHEAD_ROWS:
            break
    if not head:
        return []
    width = max(len(cells) for cells, _ in head)
    captions: list[str] = []
    while len(head) > 1 and width > 1 and sum(1 for cell in head[0][0] if cell) == 1:
        captions.append(next(cell for cell in head.pop(0)[0] if cell))
    blocks = [Block("text", "\n".join(captions))] if captions else []
    names: list[str] = []
    if len(head) > 1 and _looks_like_header(*head[0]):
        names = head.pop(0)[0]

    def record(cells: list[str]) -> str:
        return "; ".join(
            f"{names[i] if i < len(names) and names[i] else f'Column {i + 1}'}: {cell}"
            for i, cell in enumerate(cells)
            if cell
        )

    lines = [record(cells) for cells, _ in head]
    lines.extend(record(cells) for cells, _ in rows)
    blocks.append(Block("table", "\n".join(lines)))
    return blocks


def parse_xlsx(data: bytes, ctx: ParseContext) -> RawDocument:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        budget = _CellBudget(ctx.limits.max_spreadsheet_cells)
        sections: list[Section] = []
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible" or not hasattr(sheet, "iter_rows"):
                continue  # hidden sheets hold lookup tables and scratch work; chartsheets hold no cells
            sheet.reset_dimensions()  # a stale <dimension> would pad every row to its width
            rows = _rows(sheet.iter_rows(values_only=True), budget, f"sheet {sheet.title!r}", typed=True)
            location: Location = {"sheet": sheet.title}
            if blocks := _records(rows):
                sections.append(Section((one_line(sheet.title),), tuple(blocks), location))
        title = workbook.properties.title or ""
    finally:
        workbook.close()
    return title, sections


def _delimiter(text: str) -> str:
    """The candidate found the same number of times on the most lines (then the most often); "," if none.

    csv.Sniffer prefers "," whenever it is consistent, which misreads "1;2,50 €" style European files.
    """
    lines = [line for line in _QUOTED.sub("", text[:_SNIFF_CHARS]).splitlines()[:_SNIFF_LINES] if line.strip()]
    if len(text) > _SNIFF_CHARS and len(lines) > 1:
        lines.pop()  # probably cut short
    best, choice = (0.0, 0), ","
    for candidate in _DELIMITERS:
        counts = [line.count(candidate) for line in lines]
        if not any(counts):
            continue
        usual = Counter(count for count in counts if count).most_common(1)[0][0]
        score = (sum(count == usual for count in counts) / len(counts), usual)
        if score > best:
            best, choice = score, candidate
    return choice


def parse_csv(data: bytes, ctx: ParseContext) -> RawDocument:
    text = decode_text(data)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), quotechar='"', doublequote=True)
    budget = _CellBudget(ctx.limits.max_spreadsheet_cells)
    blocks = _records(_rows(reader, budget, "the CSV", typed=False))
    return "", [Section((), tuple(blocks))] if blocks else []
