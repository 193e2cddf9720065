"""Turn an upload's bytes into a title and heading-delimited sections of clean text."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from bs4 import BeautifulSoup, NavigableString, Tag

from ingestion.formats import decode_text
from services.core.errors import CorruptDocument, EmptyDocument, UnsupportedFormat

EMPTY_MESSAGE = "no extractable text: the file holds no words once markup is removed"
EMPTY_PDF_MESSAGE = "no extractable text (a scanned PDF needs OCR, which Steward does not do yet)"
# A .docx that inflates beyond this is refused rather than risk exhausting memory (a zip bomb).
MAX_DOCX_UNZIPPED_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Section:
    """A run of text under one heading; "" when the text precedes any heading."""

    heading: str
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """What every format parses to, so chunking never needs to know the format."""

    title: str
    sections: list[Section]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def normalise(text: str) -> str:
    """Unify newlines, drop NULs/control characters and lone surrogates, collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").translate({0x0D: 0x0A, 0x0C: 0x0A, 0x2028: 0x0A, 0x2029: 0x0A})
    text = _CONTROL.sub("", text).encode("utf-8", "replace").decode("utf-8")
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _one_line(text: str) -> str:
    return " ".join(normalise(text).split())


def _build(title: str, raw: list[tuple[str, str]], filename: str, fmt: str) -> ParsedDocument:
    sections = [Section(_one_line(h), t) for h, body in raw if (t := normalise(body))]
    if not sections:
        raise EmptyDocument(EMPTY_PDF_MESSAGE if fmt == "pdf" else EMPTY_MESSAGE)
    return ParsedDocument(_one_line(title) or PurePosixPath(filename.replace("\\", "/")).stem, sections)


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.S)


def _parse_markdown(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    text = _FRONT_MATTER.sub("", normalise(decode_text(data)) + "\n")
    title, fence = "", ""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.split("\n"):
        if fence or _FENCE.match(line):
            if (m := _FENCE.match(line)) and (not fence or m.group(1) == fence):
                fence = "" if fence else m.group(1)
            sections[-1][1].append(line)
            continue
        heading = m.group(2) if (m := _ATX.match(line)) else None
        body = sections[-1][1]
        if heading is None and _SETEXT.match(line) and body and body[-1].strip():
            heading = body.pop()  # "Heading\n=====" style: the previous line was the heading
        if heading is None:
            body.append(line)
            continue
        title = title or heading
        sections.append((heading, []))
    return title, [(h, "\n".join(body)) for h, body in sections]


_DROP_TAGS = ["script", "style", "nav", "noscript", "template", "iframe", "object", "embed", "svg", "head"]
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "blockquote",
        "pre",
        "table",
        "tr",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "hr",
        "br",
        "address",
        "details",
        "summary",
        *_HEADINGS,
    }
)
_SPACES = re.compile(r"\s+")


class _Break(NavigableString):
    """A paragraph break marker inserted around block elements."""


class _Verbatim(NavigableString):
    """The text of a <pre> block, whose line breaks and indentation matter."""


def _parse_html(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    # lxml's HTML parser never fetches URLs and does not expand DTD entities, so hostile markup is inert.
    soup = BeautifulSoup(data, "lxml")
    title = soup.title.get_text() if soup.title else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for pre in soup.find_all("pre"):
        pre.replace_with(_Verbatim(f"\n\n{pre.get_text()}\n\n"))
    for cell in soup.find_all(["td", "th"]):
        if cell.find_previous_sibling(["td", "th"]):
            cell.insert_before(NavigableString(" | "))
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before(_Break("\n\n"))
        tag.insert_after(_Break("\n\n"))
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_heading: set[int] = set()
    for node in (soup.body or soup).descendants:
        if isinstance(node, Tag) and node.name in _HEADINGS:
            sections.append((node.get_text(), []))
            in_heading.update(id(s) for s in node.find_all(string=True))
        elif type(node) in (_Break, _Verbatim) and id(node) not in in_heading:
            sections[-1][1].append(str(node))
        elif type(node) is NavigableString and id(node) not in in_heading:
            parts = sections[-1][1]
            piece = _SPACES.sub(" ", str(node))
            if not parts or parts[-1].endswith((" ", "\n")):
                piece = piece.lstrip(" ")
            parts.append(piece)
    first_heading = next((h for h, _ in sections[1:] if h.strip()), "")
    return title or first_heading, [(h, "".join(parts)) for h, parts in sections]


def _parse_docx(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    import docx
    from docx.table import Table

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_DOCX_UNZIPPED_BYTES:
            raise CorruptDocument("could not read DOCX: it unpacks to more than 200 MB")
    document = docx.Document(io.BytesIO(data))
    title = document.core_properties.title or ""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                sections[-1][1].append(" | ".join(cell.text.strip() for cell in row.cells))
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style.startswith(("Heading", "Title")) and block.text.strip():
            title = title or block.text
            sections.append((block.text, []))
        else:
            sections[-1][1].append(block.text)
    return title, [(h, "\n\n".join(parts)) for h, parts in sections]


def _parse_pdf(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise CorruptDocument("could not read PDF: it is protected by a password")
    title = (reader.metadata.title if reader.metadata else None) or ""
    pages = [(f"page {n}", page.extract_text() or "") for n, page in enumerate(reader.pages, start=1)]
    if not pages:
        raise CorruptDocument("could not read PDF: it has no pages")
    return str(title), pages


_PARSERS: dict[str, tuple[str, Callable[[bytes], tuple[str, list[tuple[str, str]]]]]] = {
    "txt": ("text", lambda data: ("", [("", decode_text(data))])),
    "md": ("Markdown", _parse_markdown),
    "html": ("HTML", _parse_html),
    "docx": ("DOCX", _parse_docx),
    "pdf": ("PDF", _parse_pdf),
}


def parse_document(data: bytes, fmt: str, filename: str) -> ParsedDocument:
    """Parse bytes of a detected format; raises CorruptDocument, EmptyDocument or UnsupportedFormat."""
    if fmt not in _PARSERS:
        raise UnsupportedFormat(f"no parser for format {fmt!r}")
    if not data.strip():
        raise EmptyDocument("the file is empty")
    kind, parser = _PARSERS[fmt]
    try:
        title, raw = parser(data)
    except (CorruptDocument, EmptyDocument):
        raise
    except Exception as exc:  # every parser library has its own zoo of exceptions for malformed input
        reason = str(exc).strip() or type(exc).__name__
        raise CorruptDocument(f"could not read {kind}: {reason}") from exc
    return _build(title, raw, filename, fmt)
