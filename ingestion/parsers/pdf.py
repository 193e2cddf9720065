"""PDF: the text layer page by page (page numbers are kept for citations); bookmarks give heading paths."""

from __future__ import annotations

import io
import logging
from typing import Any

from ingestion.parsers.model import ParseContext, RawDocument
from ingestion.parsers.text import Outline
from services.core.errors import DocumentTooLarge, EncryptedDocument

log = logging.getLogger(__name__)

# Bookmarks beyond this are ignored: an outline is navigation, not content, and may be hostile.
MAX_OUTLINE_ENTRIES = 10_000


def _bookmarks(reader: Any) -> list[tuple[int, tuple[str, ...]]]:
    """(0-based page, heading path) per bookmark, sorted by page; [] when the outline is missing or broken."""
    found: list[tuple[int, tuple[str, ...]]] = []

    def visit(items: list[Any], path: tuple[str, ...]) -> None:
        last: tuple[str, ...] = path
        for item in items:
            if len(found) >= MAX_OUTLINE_ENTRIES:
                return
            if isinstance(item, list):
                visit(item, last)  # children of the previous entry
                continue
            last = (*path, str(item.title or "").strip())
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0 and last[-1]:
                found.append((page, last))

    try:
        visit(reader.outline, ())
    except Exception as exc:  # a broken outline must not cost the text
        log.info("ignoring unreadable PDF outline: %s", exc)
        return []
    return sorted(found, key=lambda entry: entry[0])


def parse_pdf(data: bytes, ctx: ParseContext) -> RawDocument:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # many PDFs are encrypted with an empty password just to restrict printing
        except Exception as exc:
            raise EncryptedDocument(f"the PDF is encrypted in a way Steward cannot open ({exc})") from exc
        if not opened:
            raise EncryptedDocument(
                "the PDF is protected by a password; remove the password (for example by printing it to a new PDF) "
                "and upload it again"
            )
    pages = reader.pages
    count = len(pages)
    if count > ctx.limits.max_pdf_pages:
        raise DocumentTooLarge(f"the PDF has {count} pages; the limit is {ctx.limits.max_pdf_pages}")
    if not count:
        raise ValueError("it has no pages")
    bookmarks, next_mark = _bookmarks(reader), 0
    outline = Outline()
    path: tuple[str, ...] = ()
    failures: list[Exception] = []
    for number, page in enumerate(pages, start=1):
        while next_mark < len(bookmarks) and bookmarks[next_mark][0] < number:
            path = bookmarks[next_mark][1]
            next_mark += 1
        outline.set_path(path, {"page": number})
        try:
            outline.paragraph(page.extract_text() or "")
        except Exception as exc:  # one damaged page should not cost the others
            log.warning("skipping unreadable PDF page %d: %s", number, exc)
            failures.append(exc)
    if failures and len(failures) == count:
        raise failures[0]
    return _title(reader), outline.finish()


def _title(reader: Any) -> str:
    try:
        return str((reader.metadata.title if reader.metadata else None) or "")
    except Exception:  # a damaged info dictionary: the filename will do
        return ""
