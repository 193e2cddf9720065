"""Format detection, parsing and chunking: what users upload comes back as clean, well-cut text."""

from __future__ import annotations

import io
import itertools

import pypdf
import pytest

from ingestion.chunker import chunk_document
from ingestion.formats import CONTENT_TYPES, SUPPORTED_EXTENSIONS, detect_format
from ingestion.parsers import ParsedDocument, Section, parse_document
from services.core.errors import CorruptDocument, EmptyDocument, UnsupportedFormat
from tests.fixtures.documents import (
    CORRUPT_PDF,
    FAKE_EXE,
    HOSTILE_MARKER,
    make_docx,
    make_html,
    make_markdown,
    make_pdf,
    make_text,
)

SECTIONS = [
    ("Leave policy", "Staff get 25 days of leave.\n\nCarry-over is 5 days."),
    ("Expenses", "Keep receipts."),
]


def parse(data: bytes, filename: str) -> ParsedDocument:
    return parse_document(data, detect_format(filename, data[:8192]), filename)


def texts(doc: ParsedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


# --- format detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "fmt"),
    [
        ("notes.txt", make_text("hello"), "txt"),
        ("README.MD", make_markdown("T", SECTIONS), "md"),
        ("page.htm", make_html("T", SECTIONS), "html"),
        ("report.pdf", make_pdf(["hi"]), "pdf"),
        ("report.pdf", b"\xef\xbb\xbf\r\n  " + make_pdf(["hi"]), "pdf"),
        ("memo.docx", make_docx("T", SECTIONS), "docx"),
        ("legacy.txt", "café naïve".encode("cp1252"), "txt"),
    ],
)
def test_supported_files_are_recognised_by_name_and_content(filename: str, data: bytes, fmt: str) -> None:
    assert detect_format(filename, data[:8192]) == fmt
    assert fmt in CONTENT_TYPES


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("invoice.pdf", FAKE_EXE),
        ("notes.txt", FAKE_EXE),
        ("page.html", FAKE_EXE),
        ("memo.docx", make_pdf(["hi"])),
        ("report.pdf", make_docx("T", SECTIONS)),
        ("setup.exe", FAKE_EXE),
        ("archive", b"hello"),
    ],
)
def test_disguised_or_unknown_files_are_refused_naming_accepted_types(filename: str, data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        detect_format(filename, data[:8192])
    assert ".pdf" in err.value.message and ".docx" in err.value.message


def test_every_supported_extension_maps_to_a_content_type() -> None:
    assert set(SUPPORTED_EXTENSIONS.values()) == set(CONTENT_TYPES)


# --- parsing each format --------------------------------------------------------------------------


def test_plain_text_is_one_section_titled_by_filename_with_whitespace_normalised() -> None:
    data = b"\xef\xbb\xbfFirst line  \r\n\r\n\r\n\r\nSecond\x00 line\x07\n"
    doc = parse_document(data, "txt", "team/Notes 2024.txt")
    assert doc.title == "Notes 2024"
    assert doc.sections == [Section("", "First line\n\nSecond line")]


def test_markdown_headings_become_sections_and_first_heading_the_title() -> None:
    doc = parse(make_markdown("Handbook", SECTIONS), "handbook.md")
    assert doc.title == "Handbook"
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_markdown_hash_lines_inside_code_fences_are_not_headings() -> None:
    doc = parse(b"# Setup\n\n```bash\n# install it\npip install x\n```\n", "setup.md")
    assert [s.heading for s in doc.sections] == ["Setup"]
    assert "# install it" in doc.sections[0].text


def test_html_title_and_headings_come_back() -> None:
    doc = parse(make_html("Staff handbook", SECTIONS), "handbook.html")
    assert doc.title == "Staff handbook"
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_html_script_style_and_nav_never_reach_the_text() -> None:
    doc = parse(make_html("T", SECTIONS, hostile=True), "page.html")
    assert HOSTILE_MARKER not in texts(doc) + doc.title + "".join(s.heading for s in doc.sections)
    assert "Keep receipts." in texts(doc)


def test_html_entity_declarations_are_not_expanded() -> None:
    bomb = (
        b'<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<html><body><p>start &b;&b; end</p><img src="http://example.invalid/x.png"></body></html>'
    )
    assert "aaaaaaaaaa" not in texts(parse(bomb, "bomb.html"))


def test_docx_title_and_heading_styles_come_back() -> None:
    doc = parse(make_docx("Policies", SECTIONS), "policies.docx")
    assert doc.title == "Policies"
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_docx_without_core_title_is_titled_by_its_first_heading() -> None:
    assert parse(make_docx(None, SECTIONS), "policies.docx").title == "Leave policy"


def test_pdf_has_one_section_per_page_and_its_metadata_title() -> None:
    doc = parse(make_pdf(["Leave is 25 days.", "Keep (all) receipts."], title="Staff handbook"), "h.pdf")
    assert doc.title == "Staff handbook"
    assert doc.sections == [Section("page 1", "Leave is 25 days."), Section("page 2", "Keep (all) receipts.")]


def test_pdf_without_metadata_title_is_titled_by_filename() -> None:
    assert parse(make_pdf(["text"]), "Q3 report.pdf").title == "Q3 report"


def test_fixture_pdf_is_valid_for_a_strict_reader() -> None:
    reader = pypdf.PdfReader(io.BytesIO(make_pdf(["one", "two"], title="T")), strict=True)
    assert [p.extract_text().strip() for p in reader.pages] == ["one", "two"]


# --- failures users see ---------------------------------------------------------------------------


def test_corrupt_pdf_gives_a_readable_reason() -> None:
    with pytest.raises(CorruptDocument) as err:
        parse(CORRUPT_PDF, "broken.pdf")
    assert err.value.message.startswith("could not read PDF: ")
    assert len(err.value.message) > len("could not read PDF: ")


def test_password_protected_pdf_is_reported_as_unreadable() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["secret"]))))
    writer.encrypt("hunter2", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(CorruptDocument, match="password"):
        parse(out.getvalue(), "locked.pdf")


def test_corrupt_docx_gives_corrupt_document() -> None:
    with pytest.raises(CorruptDocument, match="could not read DOCX"):
        parse(b"PK\x03\x04" + b"\x00garbage" * 20, "broken.docx")


@pytest.mark.parametrize("filename", ["empty.txt", "empty.md", "empty.html", "empty.pdf", "empty.docx"])
def test_empty_file_gives_empty_document(filename: str) -> None:
    with pytest.raises(EmptyDocument):
        parse(b"", filename)


def test_pdf_without_text_explains_that_ocr_is_not_done() -> None:
    with pytest.raises(EmptyDocument, match="OCR"):
        parse(make_pdf(["", ""]), "scan.pdf")


def test_markup_without_words_gives_empty_document() -> None:
    with pytest.raises(EmptyDocument):
        parse(b"<html><head><script>alert(1)</script></head><body> </body></html>", "x.html")


# --- chunking -------------------------------------------------------------------------------------

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"]
WORDS += ["while", "seven", "wizards", "box", "nimbly"]


def prose(sentences: int, offset: int = 0) -> str:
    picks = [[WORDS[(i * 3 + j + offset) % len(WORDS)] for j in range(9)] for i in range(sentences)]
    return " ".join(" ".join(words).capitalize() + "." for words in picks)


LONG_DOC = ParsedDocument(
    "Doc",
    [
        Section("One", "\n\n".join(prose(n, n) for n in (3, 7, 2, 12, 1))),
        Section("Two", "Short section."),
        Section("Three", prose(40)),
    ],
)


def test_chunks_never_span_sections() -> None:
    chunks = chunk_document(LONG_DOC, 300, 50)
    for section in LONG_DOC.sections:
        for chunk in (c for c in chunks if c.heading == section.heading):
            assert chunk.text in section.text
    assert [c.text for c in chunks if c.heading == "Two"] == ["Short section."]


def test_chunks_respect_size_are_indexed_in_order_and_never_empty() -> None:
    chunks = chunk_document(LONG_DOC, 300, 50)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= 300 and c.text == c.text.strip() for c in chunks)


def test_chunks_prefer_to_end_at_sentence_boundaries() -> None:
    chunks = chunk_document(LONG_DOC, 300, 50)
    assert all(c.text.endswith(".") for c in chunks)


def test_consecutive_chunks_of_a_section_overlap() -> None:
    chunks = [c for c in chunk_document(LONG_DOC, 300, 80) if c.heading == "Three"]
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        longest = min(len(prev.text), len(nxt.text))
        shared = next(k for k in range(longest, -1, -1) if prev.text.endswith(nxt.text[:k]))
        assert 0 < shared <= 80


def test_zero_overlap_covers_the_text_once() -> None:
    chunks = chunk_document(ParsedDocument("D", [Section("S", prose(30))]), 200, 0)
    assert " ".join(c.text for c in chunks) == prose(30)


def test_chunking_is_deterministic_with_content_hashes() -> None:
    first, second = chunk_document(LONG_DOC, 300, 50), chunk_document(LONG_DOC, 300, 50)
    assert first == second
    assert len({c.text_hash for c in first}) == len(first) and all(len(c.text_hash) == 64 for c in first)


def test_long_paragraph_without_spaces_still_chunks() -> None:
    text = "x" * 1000
    chunks = chunk_document(ParsedDocument("D", [Section("", text)]), 300, 40)
    assert all(0 < len(c.text) <= 300 for c in chunks)
    assert chunks[0].text == "x" * 300 and sum(len(c.text) for c in chunks) >= 1000


@pytest.mark.parametrize(("size", "overlap"), [(100, 100), (100, 150), (100, -1), (0, 0)])
def test_invalid_chunk_settings_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(LONG_DOC, size, overlap)
