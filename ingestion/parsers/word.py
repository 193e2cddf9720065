"""DOCX: paragraphs under heading levels (Title = 0, Heading N = N), tables kept as tables, tracked insertions in."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from ingestion.parsers.model import Block, ParseContext, RawDocument
from ingestion.parsers.text import Outline, table_block

_HEADING_STYLE = re.compile(r"heading ([1-9])")
_NS = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
# Runs whose text is part of the paragraph as the reader sees it (deleted runs, w:del, are not).
_RUNS = etree.XPath(
    "./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:ins/w:hyperlink/w:r | ./w:smartTag/w:r | ./w:fldSimple/w:r",
    namespaces=_NS,
)
_OUTLINE_LEVEL = etree.XPath("./w:pPr/w:outlineLvl/@w:val", namespaces=_NS)
_IS_TABLE_OF_CONTENTS = etree.XPath(
    "boolean(./w:sdtPr/w:docPartObj/w:docPartGallery[@w:val='Table of Contents'])", namespaces=_NS
)


def _level_of_style(style: Any) -> tuple[int | None, bool]:
    """(heading level or None, is a list style), following the style's base styles."""
    is_list = False
    for _ in range(8):
        if style is None:
            break
        name = (style.name or "").lower()
        is_list = is_list or name.startswith("list")
        if name == "title":
            return 0, False
        if m := _HEADING_STYLE.fullmatch(name):
            return int(m.group(1)), False
        if (level := _OUTLINE_LEVEL(style.element)) and level[0].isdigit() and int(level[0]) < 9:
            return int(level[0]) + 1, False
        style = style.base_style
    return None, is_list


def _body_elements(container: Any, p_tag: str, tbl_tag: str, sdt_tag: str) -> Iterator[Any]:
    """Paragraphs and tables in order, including those inside content controls (but not a table of contents)."""
    for child in container.iterchildren():
        if child.tag in (p_tag, tbl_tag):
            yield child
        elif child.tag == sdt_tag and not _IS_TABLE_OF_CONTENTS(child):
            for content in child.iterchildren("{*}sdtContent"):
                yield from _body_elements(content, p_tag, tbl_tag, sdt_tag)


def _table(tbl: Any, parent: Any) -> Block | None:
    from docx.table import Table, _Cell

    table = Table(tbl, parent)
    rows = [[_Cell(tc, table).text for tc in tr.tc_lst] for tr in tbl.tr_lst]
    return table_block(rows, has_header=len(rows) > 1)


def parse_docx(data: bytes, ctx: ParseContext) -> RawDocument:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    document = docx.Document(io.BytesIO(data))
    title = document.core_properties.title or ""
    p_tag, tbl_tag = qn("w:p"), qn("w:tbl")
    styles: dict[str | None, tuple[int | None, bool]] = {}
    outline = Outline()
    for element in _body_elements(document.element.body, p_tag, tbl_tag, qn("w:sdt")):
        if element.tag == tbl_tag:
            outline.block(_table(element, document._body))
            continue
        style_id = element.style
        if style_id not in styles:
            styles[style_id] = _level_of_style(document.part.get_style(style_id, WD_STYLE_TYPE.PARAGRAPH))
        level, is_list = styles[style_id]
        if (direct := _OUTLINE_LEVEL(element)) and direct[0].isdigit() and int(direct[0]) < 9:
            level = int(direct[0]) + 1
        text = "".join(run.text for run in _RUNS(element))
        if level is not None and text.strip():
            outline.heading(level, text)
            title = title or text
        elif is_list or (element.pPr is not None and element.pPr.numPr is not None):
            outline.paragraph(f"- {text}")
        else:
            outline.paragraph(text)
    return title, outline.finish()
