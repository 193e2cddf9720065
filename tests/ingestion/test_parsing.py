"""Format detection and parsing: what users upload comes back as clean text, with its structure and locations."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from functools import cache

import pypdf
import pytest

from ingestion.parsers import Block, ParsedDocument, ParseLimits, Section, parse_document
from services.core.errors import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    EncryptedDocument,
    UnsupportedFormat,
)
from services.core.formats import CONTENT_TYPES, HEAD_BYTES, SUPPORTED_EXTENSIONS, decode_text, detect_format
from tests.fixtures.documents import (
    CORRUPT_PDF,
    FAKE_EXE,
    FURNITURE_MARKERS,
    HOSTILE_MARKER,
    make_csv,
    make_docx,
    make_eml,
    make_html,
    make_markdown,
    make_ooxml_zip,
    make_pdf,
    make_pptx,
    make_text,
    make_xlsx,
    make_zip_bomb,
)

SECTIONS = [
    ("Leave policy", "Staff get 25 days of leave.\n\nCarry-over is 5 days."),
    ("Expenses", "Keep receipts."),
]
OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64


def parse(data: bytes, filename: str, limits: ParseLimits = ParseLimits()) -> ParsedDocument:
    return parse_document(data, detect_format(filename, data[:HEAD_BYTES]), filename, limits)


def texts(doc: ParsedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


def headings(doc: ParsedDocument) -> list[tuple[str, ...]]:
    return [s.heading_path for s in doc.sections]


@cache
def long_pdf(pages: int) -> bytes:
    return make_pdf([f"Page {n} says hello.\nSecond line of page {n}." for n in range(1, pages + 1)])


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
        ("deck.pptx", make_pptx([("Hello", ["world"])]), "pptx"),
        ("book.xlsx", make_xlsx({"S": [["a", "b"], [1, 2]]}), "xlsx"),
        ("rows.csv", make_csv([["a", "b"], [1, 2]]), "csv"),
        ("mail.eml", make_eml("Hi", "Body"), "eml"),
        ("legacy.txt", "café naïve".encode("cp1252"), "txt"),
        ("windows.txt", "\ufeffcafé".encode("utf-16-le"), "txt"),
    ],
)
def test_supported_files_are_recognised_by_name_and_content(filename: str, data: bytes, fmt: str) -> None:
    assert detect_format(filename, data[:4096]) == fmt
    assert fmt in CONTENT_TYPES


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("invoice.pdf", FAKE_EXE),
        ("notes.txt", FAKE_EXE),
        ("rows.csv", FAKE_EXE),
        ("mail.eml", FAKE_EXE),
        ("page.html", FAKE_EXE),
        ("memo.docx", make_pdf(["hi"])),
        ("deck.pptx", FAKE_EXE),
        ("book.xlsx", b"Region,Revenue\nNorth,1200\n"),
        ("report.pdf", make_docx("T", SECTIONS)),
        ("setup.exe", FAKE_EXE),
        ("archive", b"hello"),
    ],
)
def test_disguised_or_unknown_files_are_refused_naming_accepted_types(filename: str, data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        detect_format(filename, data[:4096])
    assert filename in err.value.message
    assert ".pdf" in err.value.message and ".docx" in err.value.message and ".xlsx" in err.value.message


@pytest.mark.parametrize("filename", ["old.docx", "locked.xlsx", "old.pptx"])
def test_legacy_or_password_protected_office_files_are_refused_with_the_fix(filename: str) -> None:
    with pytest.raises(UnsupportedFormat, match="password-protected or in the old Office 97-2003 format"):
        detect_format(filename, OLE_HEADER)


def test_every_supported_extension_maps_to_a_content_type() -> None:
    assert set(SUPPORTED_EXTENSIONS.values()) == set(CONTENT_TYPES)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("café naïve €5".encode("cp1252"), "café naïve €5"),
        ("café naïve".encode("latin-1"), "café naïve"),
        ("café naïve €5".encode(), "café naïve €5"),
        ("\ufeffcafé €5".encode("utf-16-le"), "café €5"),
    ],
)
def test_text_in_legacy_encodings_keeps_its_accents_and_euro_sign(data: bytes, text: str) -> None:
    assert decode_text(data).lstrip("\ufeff") == text
    assert parse(data, "legacy.txt").sections[0].text == text


# --- plain text and Markdown ------------------------------------------------------------------------


def test_plain_text_is_one_section_titled_by_filename_with_whitespace_normalised() -> None:
    data = b"\xef\xbb\xbfFirst line  \r\n\r\n\r\n\r\nSecond\x00 line\x07\n"
    doc = parse_document(data, "txt", "team/Notes 2024.txt")
    assert doc.title == "Notes 2024"
    assert doc.sections == [Section((), (Block("text", "First line\n\nSecond line"),))]


def test_markdown_headings_nest_into_heading_paths_and_first_heading_is_the_title() -> None:
    data = (
        b"# Handbook\n\nIntro.\n\n## Leave\n\nGeneral.\n\n"
        b"### Parental leave\n\nSixteen weeks.\n\n## Expenses\n\nKeep.\n"
    )
    doc = parse(data, "handbook.md")
    assert doc.title == "Handbook"
    assert headings(doc) == [
        ("Handbook",),
        ("Handbook", "Leave"),
        ("Handbook", "Leave", "Parental leave"),
        ("Handbook", "Expenses"),
    ]
    assert doc.sections[2].heading == "Handbook > Leave > Parental leave"
    assert doc.sections[2].text == "Sixteen weeks."


def test_markdown_sections_keep_their_paragraphs() -> None:
    doc = parse(make_markdown("Handbook", SECTIONS), "handbook.md")
    assert [s.heading for s in doc.sections] == ["Handbook > Leave policy", "Handbook > Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_markdown_front_matter_title_wins_and_setext_headings_count() -> None:
    doc = parse(b"---\ntitle: 'Travel guide'\nowner: hr\n---\nTrains\n======\n\nBook early.\n", "travel.md")
    assert doc.title == "Travel guide"
    assert headings(doc) == [("Trains",)]
    assert "owner" not in texts(doc)


def test_markdown_hash_lines_inside_code_fences_are_not_headings() -> None:
    doc = parse(b"# Setup\n\n```bash\n# install it\npip install x\n```\n", "setup.md")
    assert [s.heading for s in doc.sections] == ["Setup"]
    assert "# install it" in doc.sections[0].text


def test_markdown_pipe_table_becomes_a_table_block_with_its_header() -> None:
    doc = parse(b"# Leave\n\nDays per team:\n\n| Team | Days |\n|---|--:|\n| Sales | 25 |\n| Ops | 27 |\n", "l.md")
    blocks = doc.sections[0].blocks
    assert blocks == (
        Block("text", "Days per team:"),
        Block("table", "Team | Days\nSales | 25\nOps | 27", "Team | Days"),
    )


# --- HTML -------------------------------------------------------------------------------------------


def test_html_title_and_headings_come_back() -> None:
    doc = parse(make_html("Staff handbook", SECTIONS), "handbook.html")
    assert doc.title == "Staff handbook"
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


@pytest.mark.parametrize("main", [True, False], ids=["with-main", "without-main"])
def test_html_menus_banners_sidebars_and_cookie_notices_never_reach_sections(main: bool) -> None:
    doc = parse(make_html("Staff handbook", SECTIONS, furniture=True, main=main), "handbook.html")
    everything = texts(doc) + doc.title + "".join(s.heading for s in doc.sections)
    leaked = [name for name, marker in FURNITURE_MARKERS.items() if marker in everything]
    assert leaked == []
    assert "Related" not in everything and "Accept all" not in everything
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_html_article_header_inside_main_content_is_kept() -> None:
    page = (
        b"<html><body><header>Site banner</header><main><article><header><h1>Visitor guide</h1>"
        b"<p>Updated in May.</p></header><p>Visitors sign in at reception.</p></article></main></body></html>"
    )
    doc = parse(page, "guide.html")
    assert doc.title == "Visitor guide"
    assert doc.sections[0].text == "Updated in May.\n\nVisitors sign in at reception."
    assert "Site banner" not in texts(doc)


@pytest.mark.parametrize(
    "wrapper",
    ['<div class="layout has-sidebar">', '<div id="app" aria-hidden="true">', '<div style="display: none">'],
)
def test_html_content_is_kept_even_when_its_wrapper_looks_like_furniture(wrapper: str) -> None:
    page = (
        f"<html><body>{wrapper}<h2>Leave</h2><p>Staff get 25 days of leave a year.</p></div>"
        '<div class="sidebar">Quick links</div></body></html>'
    )
    doc = parse(page.encode(), "leave.html")
    assert texts(doc) == "Staff get 25 days of leave a year."


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


def test_html_data_table_is_one_table_block_and_layout_table_is_text() -> None:
    page = (
        b"<html><body><h2>Rates</h2><table><thead><tr><th>Band</th><th>Rate</th></tr></thead>"
        b"<tbody><tr><td>A</td><td>10%</td></tr><tr><td>B</td><td>20%</td></tr></tbody></table>"
        b"<table role='presentation'><tr><td><h2>Contact</h2><p>Call 4357.</p></td></tr></table></body></html>"
    )
    doc = parse(page, "rates.html")
    assert doc.sections[0].blocks == (Block("table", "Band | Rate\nA | 10%\nB | 20%", "Band | Rate"),)
    assert doc.sections[1].heading_path == ("Contact",) and doc.sections[1].text == "Call 4357."


def test_html_in_windows_1252_declared_as_latin_1_keeps_the_euro_sign() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Lunch costs 5 € at the café.</p></body></html>'
    assert texts(parse(page.encode("cp1252"), "menu.html")) == "Lunch costs 5 € at the café."


# --- DOCX -------------------------------------------------------------------------------------------


def test_docx_title_and_heading_styles_come_back() -> None:
    doc = parse(make_docx("Policies", SECTIONS), "policies.docx")
    assert doc.title == "Policies"
    assert [s.heading for s in doc.sections] == ["Leave policy", "Expenses"]
    assert doc.sections[0].text == "Staff get 25 days of leave.\n\nCarry-over is 5 days."


def test_docx_heading_levels_nest_and_tables_stay_tables() -> None:
    rows = [["Team", "Weeks"], ["Sales", "16"], ["Ops", "18"]]
    data = make_docx(
        "Handbook",
        [("Leave", "All staff."), ("Parental leave", "Paid in full."), ("Expenses", "Keep receipts.")],
        levels=[1, 2, 1],
        tables={1: rows},
    )
    doc = parse(data, "handbook.docx")
    assert headings(doc) == [("Leave",), ("Leave", "Parental leave"), ("Expenses",)]
    assert doc.sections[1].blocks == (
        Block("text", "Paid in full."),
        Block("table", "Team | Weeks\nSales | 16\nOps | 18", "Team | Weeks"),
    )


def test_docx_reads_content_controls_and_tracked_insertions_but_not_deletions_or_the_contents_page() -> None:
    import docx
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document(io.BytesIO(make_docx("Policies", [("Leave", "Before.")])))
    body_end = document.element.body[-1]  # the section properties stay last
    for xml in (
        f'<w:sdt {w}><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/></w:docPartObj>'
        "</w:sdtPr><w:sdtContent><w:p><w:r><w:t>Leave ..... 1</w:t></w:r></w:p></w:sdtContent></w:sdt>",
        f"<w:sdt {w}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>In a form field.</w:t></w:r></w:p></w:sdtContent></w:sdt>",
        f'<w:p {w}><w:r><w:t xml:space="preserve">Leave is </w:t></w:r><w:ins w:id="1" w:author="HR"><w:r>'
        '<w:t>25</w:t></w:r></w:ins><w:del w:id="2" w:author="HR"><w:r><w:delText>20</w:delText></w:r></w:del>'
        '<w:r><w:t xml:space="preserve"> days.</w:t></w:r></w:p>',
    ):
        body_end.addprevious(parse_xml(xml))
    out = io.BytesIO()
    document.save(out)
    doc = parse(out.getvalue(), "policies.docx")
    assert doc.sections[0].text == "Before.\n\nIn a form field.\n\nLeave is 25 days."


def test_docx_without_core_title_is_titled_by_its_first_heading() -> None:
    assert parse(make_docx(None, SECTIONS), "policies.docx").title == "Leave policy"


# --- PPTX -------------------------------------------------------------------------------------------


def test_pptx_slides_become_sections_with_titles_slide_numbers_tables_and_notes() -> None:
    data = make_pptx(
        [("Q3 results", ["Revenue grew 12%", "Costs fell"]), ("Divider", []), ("Regions", ["By region:"])],
        notes=["Thank the sales team.", None, None],
        tables={2: [["Region", "Revenue"], ["North", "1200"], ["South", "950"]]},
    )
    doc = parse(data, "q3.pptx")
    assert doc.title == "Q3 results"  # no core title: the first slide's
    assert [(s.heading_path, dict(s.location)) for s in doc.sections] == [
        (("Q3 results",), {"slide": 1}),
        (("Regions",), {"slide": 3}),  # a title-only divider slide adds nothing to search
    ]
    assert doc.sections[0].blocks == (
        Block("text", "Revenue grew 12%\nCosts fell"),
        Block("text", "Speaker notes: Thank the sales team."),
    )
    assert doc.sections[1].blocks[-1] == Block(
        "table", "Region | Revenue\nNorth | 1200\nSouth | 950", "Region | Revenue"
    )


def test_pptx_core_title_wins() -> None:
    assert parse(make_pptx([("Agenda", ["Intro"])], title="Board meeting"), "deck.pptx").title == "Board meeting"


# --- XLSX and CSV -----------------------------------------------------------------------------------


def test_xlsx_rows_keep_their_header_names_per_sheet() -> None:
    data = make_xlsx(
        {
            "Q3": [
                ["Quarterly revenue"],
                ["Region", "Quarter", "Revenue", "Closed"],
                ["North", "Q3", 1200, dt.date(2024, 9, 30)],
                ["South", "Q3", 950.5, None],
                [None, None, None, None],
                ["West", None, 80.0, dt.datetime(2024, 9, 1, 14, 30)],
            ],
            "Notes": [["Owner", "Anna"]],
            "Lookup": [["secret", "scratch"]],
        },
        title="Revenue 2024",
        hidden=["Lookup"],
    )
    doc = parse(data, "revenue.xlsx")
    assert doc.title == "Revenue 2024"
    assert [(s.heading_path, dict(s.location)) for s in doc.sections] == [
        (("Q3",), {"sheet": "Q3"}),
        (("Notes",), {"sheet": "Notes"}),
    ]
    assert doc.sections[0].blocks == (
        Block("text", "Quarterly revenue"),
        Block(
            "table",
            "Region: North; Quarter: Q3; Revenue: 1200; Closed: 2024-09-30\n"
            "Region: South; Quarter: Q3; Revenue: 950.5\n"
            "Region: West; Revenue: 80; Closed: 2024-09-01 14:30:00",
        ),
    )
    assert "scratch" not in texts(doc)  # hidden sheets are left out


def test_xlsx_without_a_header_row_names_columns_by_number() -> None:
    doc = parse(make_xlsx({"Data": [[1, 2], [3, 4]]}), "numbers.xlsx")
    assert doc.sections[0].text == "Column 1: 1; Column 2: 2\nColumn 1: 3; Column 2: 4"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_dialect_is_sniffed_and_rows_keep_header_names(delimiter: str) -> None:
    data = make_csv(
        [["Region", "Quarter", "Revenue"], ["North", "Q3", "1,200"], ["South", "Q3", "950"]], delimiter=delimiter
    )
    doc = parse(data, "revenue.csv")
    assert doc.title == "revenue"
    assert doc.sections == [
        Section(
            (),
            (Block("table", "Region: North; Quarter: Q3; Revenue: 1,200\nRegion: South; Quarter: Q3; Revenue: 950"),),
        )
    ]


def test_csv_in_cp1252_keeps_accents_and_a_numeric_first_row_is_data() -> None:
    data = make_csv([["1", "Café crème", "2,50 €"]], delimiter=";", encoding="cp1252")
    assert texts(parse(data, "prices.csv")) == "Column 1: 1; Column 2: Café crème; Column 3: 2,50 €"


# --- EML --------------------------------------------------------------------------------------------


def test_email_headers_body_and_text_attachments_all_arrive_with_locations() -> None:
    data = make_eml(
        "Team offsite",
        "Hi all,\n\nThe offsite is on Friday in Lyon.",
        [
            ("agenda.txt", b"09:00 Coffee\n10:00 Strategy"),
            ("budget.csv", make_csv([["Item", "Cost"], ["Train", "120"]])),
            ("slides.pptx", make_pptx([("Plan", ["Hire two engineers"])])),
            ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32),
        ],
        cc="Carol Diaz <carol@example.com>",
    )
    doc = parse(data, "offsite.eml")
    assert doc.title == "Team offsite"
    first = doc.sections[0]
    assert first.heading_path == () and dict(first.location) == {}
    assert first.blocks[0].text == (
        "From: Alice Martin <alice@example.com>\nTo: Bob Stone <bob@example.com>\n"
        "Cc: Carol Diaz <carol@example.com>\nDate: Mon, 03 Jun 2024 09:30:00 +0000\nSubject: Team offsite"
    )
    assert "The offsite is on Friday in Lyon." in first.text
    attachments = {s.location["attachment"]: s for s in doc.sections[1:]}
    assert set(attachments) == {"agenda.txt", "budget.csv", "slides.pptx"}
    assert attachments["agenda.txt"].text == "09:00 Coffee\n10:00 Strategy"
    assert attachments["agenda.txt"].heading_path == ("agenda.txt",)
    assert attachments["budget.csv"].text == "Item: Train; Cost: 120"
    assert attachments["slides.pptx"].heading_path == ("slides.pptx", "Plan")
    assert dict(attachments["slides.pptx"].location) == {"attachment": "slides.pptx", "slide": 1}


def test_html_only_email_body_is_converted_to_text() -> None:
    body = "<html><body><nav>Menu</nav><p>Your <b>badge</b> is ready at the café.</p></body></html>"
    doc = parse(make_eml("Badge", body, html=True), "badge.eml")
    assert "Your badge is ready at the café." in texts(doc)
    assert "<b>" not in texts(doc) and "Menu" not in texts(doc)


def test_forwarded_email_attachments_nest_only_to_the_depth_limit() -> None:
    innermost = make_eml("Innermost", "Deep body.", [("deep.txt", b"Too deep to read.")])
    inner = make_eml("Inner", "Inner body.", [("note.txt", b"Inner note."), ("older.eml", innermost)])
    data = make_eml("Outer", "Outer body.", [("fwd.eml", inner)])
    doc = parse(data, "outer.eml")
    locations = [s.location.get("attachment") for s in doc.sections]
    assert locations == [None, "fwd.eml", "fwd.eml > note.txt", "fwd.eml > older.eml"]
    assert "Inner note." in texts(doc) and "Deep body." in texts(doc)
    assert "Too deep to read." not in texts(doc)  # depth 3 is past the default limit of 2
    shallow = parse(data, "outer.eml", ParseLimits(max_attachment_depth=0))
    assert [s.location.get("attachment") for s in shallow.sections] == [None]


def test_unreadable_attachment_is_skipped_not_fatal() -> None:
    data = make_eml("Report", "See attached.", [("report.pdf", CORRUPT_PDF), ("bomb.docx", make_zip_bomb("docx"))])
    doc = parse(data, "report.eml")
    assert len(doc.sections) == 1 and "See attached." in doc.sections[0].text


# --- PDF --------------------------------------------------------------------------------------------


def test_pdf_has_one_section_per_page_with_page_numbers_and_its_metadata_title() -> None:
    doc = parse(make_pdf(["Leave is 25 days.", "", "Keep (all) receipts."], title="Staff handbook"), "h.pdf")
    assert doc.title == "Staff handbook"
    assert doc.sections == [
        Section((), (Block("text", "Leave is 25 days."),), {"page": 1}),
        Section((), (Block("text", "Keep (all) receipts."),), {"page": 3}),
    ]


def test_pdf_bookmarks_give_heading_paths() -> None:
    data = make_pdf(
        ["Cover.", "Leave text.", "Parental text.", "Expense text."],
        bookmarks=[("Leave", 2, 1), ("Parental leave", 3, 2), ("Expenses", 4, 1)],
    )
    doc = parse(data, "handbook.pdf")
    assert [(s.heading_path, s.location["page"]) for s in doc.sections] == [
        ((), 1),
        (("Leave",), 2),
        (("Leave", "Parental leave"), 3),
        (("Expenses",), 4),
    ]


def test_pdf_without_metadata_title_is_titled_by_filename() -> None:
    assert parse(make_pdf(["text"]), "Q3 report.pdf").title == "Q3 report"


def test_fixture_pdf_is_valid_for_a_strict_reader() -> None:
    data = make_pdf(["one", "two"], title="T", bookmarks=[("First", 1, 1), ("Sub", 2, 2)])
    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert [p.extract_text().strip() for p in reader.pages] == ["one", "two"]


def test_long_pdf_within_the_page_limit_parses_every_page() -> None:
    doc = parse(long_pdf(300), "manual.pdf", ParseLimits(max_pdf_pages=300))
    assert [s.location["page"] for s in doc.sections] == list(range(1, 301))
    assert doc.sections[-1].text == "Page 300 says hello.\nSecond line of page 300."


def test_pdf_over_the_page_limit_is_refused_with_both_numbers() -> None:
    with pytest.raises(DocumentTooLarge) as err:
        parse(long_pdf(300), "manual.pdf", ParseLimits(max_pdf_pages=299))
    assert err.value.message == "the PDF has 300 pages; the limit is 299"


# --- failures users see ---------------------------------------------------------------------------


def test_corrupt_pdf_gives_a_readable_reason() -> None:
    with pytest.raises(CorruptDocument) as err:
        parse(CORRUPT_PDF, "broken.pdf")
    assert err.value.message.startswith("could not read PDF: ")
    assert len(err.value.message) > len("could not read PDF: ")


def test_password_protected_pdf_is_reported_as_encrypted() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["secret"]))))
    writer.encrypt("hunter2", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(EncryptedDocument) as err:
        parse(out.getvalue(), "locked.pdf")
    assert err.value.message.startswith("the PDF is protected by a password; remove the password")
    assert err.value.code == "encrypted_document"


def test_pdf_encrypted_without_a_user_password_is_read() -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["printable"]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert texts(parse(out.getvalue(), "restricted.pdf")) == "printable"


def test_corrupt_docx_gives_corrupt_document() -> None:
    with pytest.raises(CorruptDocument, match="could not read DOCX"):
        parse(b"PK\x03\x04" + b"\x00garbage" * 20, "broken.docx")


@pytest.mark.parametrize("fmt", ["docx", "pptx", "xlsx"])
def test_zip_bomb_disguised_as_office_file_is_refused_before_inflating(fmt: str) -> None:
    bomb = make_zip_bomb(fmt)
    assert len(bomb) < 200_000  # 64 MB of blanks packs into a small upload
    with pytest.raises(DocumentTooLarge) as err:
        parse(bomb, f"invoice.{fmt}")
    assert "zip bomb" in err.value.message and "refuses compression ratios above 100" in err.value.message


def test_office_file_inflating_past_the_size_limit_is_refused() -> None:
    with pytest.raises(DocumentTooLarge) as err:
        parse(make_docx("T", SECTIONS), "memo.docx", ParseLimits(max_unzipped_bytes=10_000))
    assert "unpacks to" in err.value.message and "the limit is 10 KB" in err.value.message


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        (
            "book.xlsx",
            make_docx("T", SECTIONS),
            "'book.xlsx' is named .xlsx but is not an Excel workbook (it is a Word document)",
        ),
        (
            "deck.pptx",
            make_xlsx({"S": [["a"]]}),
            "'deck.pptx' is named .pptx but is not a PowerPoint presentation (it is an Excel workbook)",
        ),
        (
            "memo.docx",
            make_ooxml_zip({"readme.txt": b"hello"}),
            "'memo.docx' is named .docx but is not a Word document",
        ),
    ],
)
def test_office_file_of_the_wrong_kind_is_named_for_what_it_is(filename: str, data: bytes, message: str) -> None:
    with pytest.raises(CorruptDocument) as err:
        parse(data, filename)
    assert err.value.message == message


def test_spreadsheet_over_the_cell_limit_is_refused() -> None:
    rows: list[list[object]] = [["Name", "Value"]] + [[f"row {i}", i] for i in range(100)]
    with pytest.raises(DocumentTooLarge) as err:
        parse(make_xlsx({"Data": rows}), "big.xlsx", ParseLimits(max_spreadsheet_cells=150))
    assert err.value.message == (
        "the spreadsheet has more than 150 cells (reading stopped at sheet 'Data', row 76); the limit is 150"
    )
    with pytest.raises(DocumentTooLarge, match="the limit is 150"):
        parse(make_csv(rows), "big.csv", ParseLimits(max_spreadsheet_cells=150))
    assert len(parse(make_csv(rows), "big.csv", ParseLimits(max_spreadsheet_cells=202)).sections) == 1


@pytest.mark.parametrize(
    "filename",
    ["empty.txt", "empty.md", "empty.html", "empty.pdf", "empty.docx", "e.pptx", "e.xlsx", "e.csv", "e.eml"],
)
def test_empty_file_gives_empty_document(filename: str) -> None:
    with pytest.raises(EmptyDocument, match="the file is empty"):
        parse(b"", filename)


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("scan.pdf", make_pdf(["", ""]), "OCR"),
        ("x.html", b"<html><head><script>alert(1)</script></head><body> </body></html>", "no words"),
        ("blank.xlsx", make_xlsx({"Sheet": [[None, None]]}), "no filled cells"),
        ("pictures.pptx", make_pptx([("Only a title", [])]), "no text besides their titles"),
    ],
)
def test_files_without_words_explain_why(filename: str, data: bytes, reason: str) -> None:
    with pytest.raises(EmptyDocument, match=reason):
        parse(data, filename)


def test_unknown_format_is_refused_by_the_parser_too() -> None:
    with pytest.raises(UnsupportedFormat, match="no parser for format 'exe'"):
        parse_document(b"MZ", "exe", "setup.exe")


def test_fixtures_are_deterministic() -> None:
    assert make_docx("T", SECTIONS) == make_docx("T", SECTIONS)
    assert make_pptx([("A", ["b"])], ["n"]) == make_pptx([("A", ["b"])], ["n"])
    assert make_xlsx({"S": [["a", 1]]}) == make_xlsx({"S": [["a", 1]]})
    assert make_eml("S", "b", [("a.txt", b"x")]) == make_eml("S", "b", [("a.txt", b"x")])
    with zipfile.ZipFile(io.BytesIO(make_docx("T", SECTIONS))) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2024, 1, 2, 3, 4, 6)}
