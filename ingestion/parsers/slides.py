"""PPTX: one section per slide, headed by its title: text frames in reading order, tables, then speaker notes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from ingestion.parsers.model import Block, ParseContext, RawDocument, Section
from ingestion.parsers.text import heading_text, normalise, table_block

_MAX_GROUP_DEPTH = 16


_OFFSET = "{http://schemas.openxmlformats.org/drawingml/2006/main}off"


class _ReadingOrder:
    """Sorts shapes top to bottom, then left to right.

    A placeholder without its own position inherits it from the slide layout; python-pptx resolves that
    with slow XPath searches, so it is done once per layout placeholder rather than once per slide.
    """

    def __init__(self) -> None:
        self._inherited: dict[tuple[str, int], tuple[int, int]] = {}

    def position(self, shape: Any, layout: str) -> tuple[int, int]:
        offset = shape._element.find(f".//{_OFFSET}")
        if offset is not None:
            return int(offset.get("y", 0)), int(offset.get("x", 0))
        if not shape.is_placeholder:
            return 0, 0
        key = (layout, shape.placeholder_format.idx)
        if key not in self._inherited:
            self._inherited[key] = (shape.top or 0, shape.left or 0)
        return self._inherited[key]

    def shapes(self, shapes: Iterable[Any], layout: str, depth: int = 0) -> Iterator[Any]:
        from pptx.shapes.group import GroupShape

        for shape in sorted(shapes, key=lambda shape: self.position(shape, layout)):
            if isinstance(shape, GroupShape):
                if depth < _MAX_GROUP_DEPTH:
                    yield from self.shapes(shape.shapes, layout, depth + 1)
            else:
                yield shape


def _text_frame(frame: Any) -> str:
    # PowerPoint writes a line break inside a paragraph as a vertical tab.
    return "\n".join("  " * paragraph.level + paragraph.text for paragraph in frame.paragraphs)


def _shape_block(shape: Any) -> Block | None:
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return table_block(rows, has_header=len(rows) > 1)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = normalise(_text_frame(shape.text_frame))
        return Block("text", text) if text else None
    return None  # pictures, charts, media: nothing to read without OCR


def _slide_blocks(slide: Any, title_shape: Any, order: _ReadingOrder) -> list[Block]:
    layout = str(slide.slide_layout.part.partname)
    shapes = (
        s for s in order.shapes(slide.shapes, layout) if title_shape is None or s.shape_id != title_shape.shape_id
    )
    blocks = [block for shape in shapes if (block := _shape_block(shape)) is not None]
    frame = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
    if frame is not None and (notes := normalise(frame.text)):
        blocks.append(Block("text", f"Speaker notes: {notes}"))
    return blocks


def parse_pptx(data: bytes, ctx: ParseContext) -> RawDocument:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    title = presentation.core_properties.title or ""
    sections: list[Section] = []
    order = _ReadingOrder()
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        slide_title = heading_text(title_shape.text_frame.text) if title_shape is not None else ""
        title = title or slide_title
        # A slide with nothing but its title (a divider, "Thank you!") would only add noise to search.
        if blocks := _slide_blocks(slide, title_shape, order):
            path = (slide_title,) if slide_title else ()
            sections.append(Section(path, tuple(blocks), {"slide": number}))
    return title, sections
