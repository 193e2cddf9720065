"""parse_document: bytes of a detected format in, a titled list of sections out, or a readable reason why not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from ingestion.parsers.mail import parse_eml
from ingestion.parsers.model import ParseContext, ParsedDocument, ParseLimits, RawDocument
from ingestion.parsers.ooxml import check_package
from ingestion.parsers.pdf import parse_pdf
from ingestion.parsers.plain import parse_markdown, parse_text
from ingestion.parsers.sheets import parse_csv, parse_xlsx
from ingestion.parsers.slides import parse_pptx
from ingestion.parsers.text import one_line
from ingestion.parsers.web import parse_html
from ingestion.parsers.word import parse_docx
from services.core.errors import CorruptDocument, EmptyDocument, StewardError, UnsupportedFormat
from services.core.formats import ACCEPTED_TYPES_TEXT, OOXML_KINDS

EMPTY_MESSAGE = "no extractable text: the file holds no words once markup is removed"
EMPTY_MESSAGES = {
    "pdf": "no extractable text (a scanned PDF needs OCR, which Steward does not do yet)",
    "pptx": "no extractable text: the slides hold no text besides their titles (pictures would need OCR)",
    "xlsx": "no extractable text: the visible sheets have no filled cells",
    "csv": "no extractable text: the CSV has no filled cells",
}
# Titles that tools write by default; a title that says nothing falls back to headings or the filename.
_PLACEHOLDER_TITLES = frozenset({"powerpoint presentation", "presentation", "untitled", "document"})

Parser = Callable[[bytes, ParseContext], RawDocument]
PARSERS: dict[str, tuple[str, Parser]] = {
    "txt": ("text", parse_text),
    "md": ("Markdown", parse_markdown),
    "html": ("HTML", parse_html),
    "pdf": ("PDF", parse_pdf),
    "docx": ("DOCX", parse_docx),
    "pptx": ("PPTX", parse_pptx),
    "xlsx": ("XLSX", parse_xlsx),
    "csv": ("CSV", parse_csv),
    "eml": ("email", parse_eml),
}


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return str(reason).strip() or type(exc).__name__


def _parse(data: bytes, fmt: str, filename: str, limits: ParseLimits, depth: int) -> ParsedDocument:
    if fmt not in PARSERS:
        raise UnsupportedFormat(f"no parser for format {fmt!r}; Steward accepts {ACCEPTED_TYPES_TEXT}")
    if not data.strip():
        raise EmptyDocument("the file is empty")
    kind, parser = PARSERS[fmt]
    ctx = ParseContext(filename, limits, depth, _parse)
    try:
        if fmt in OOXML_KINDS:
            check_package(data, fmt, ctx)
        title, sections = parser(data, ctx)
    except StewardError:
        raise
    except Exception as exc:  # every parser library has its own zoo of exceptions for malformed input
        raise CorruptDocument(f"could not read {kind}: {_reason(exc)}") from exc
    sections = [section for section in sections if section.blocks]
    if not sections:
        raise EmptyDocument(EMPTY_MESSAGES.get(fmt, EMPTY_MESSAGE))
    title = one_line(title)
    if title.lower() in _PLACEHOLDER_TITLES:
        title = next((s.heading_path[0] for s in sections if s.heading_path), "")
    return ParsedDocument(title or PurePosixPath(filename.replace("\\", "/")).stem, sections)


def parse_document(data: bytes, fmt: str, filename: str, limits: ParseLimits = ParseLimits()) -> ParsedDocument:
    """Parse bytes of a detected format; raises CorruptDocument (or a subclass), EmptyDocument or UnsupportedFormat."""
    return _parse(data, fmt, filename, limits, 0)
