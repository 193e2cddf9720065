"""Plain text and Markdown: headings (ATX and setext) nest by level; GFM pipe tables stay tables."""

from __future__ import annotations

import re

from ingestion.parsers.model import ParseContext, RawDocument
from ingestion.parsers.text import Outline, normalise, table_block
from services.core.formats import decode_text


def parse_text(data: bytes, ctx: ParseContext) -> RawDocument:
    outline = Outline()
    outline.paragraph(decode_text(data))
    return "", outline.finish()


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(['\"]?)(.+?)\1[ \t]*$", re.M)
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def parse_markdown(data: bytes, ctx: ParseContext) -> RawDocument:
    text = normalise(decode_text(data)) + "\n"
    title = ""
    if front := _FRONT_MATTER.match(text):
        title = (m.group(2) if (m := _FRONT_TITLE.search(front.group(1))) else "").strip()
        text = text[front.end() :]
    lines = text.split("\n")
    outline, body, fence = Outline(), [], ""
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if fence or _FENCE.match(line):
            if (m := _FENCE.match(line)) and (not fence or m.group(1) == fence):
                fence = "" if fence else m.group(1)
            body.append(line)
            continue
        if "|" in line and i < len(lines) and "|" in lines[i] and _TABLE_RULE.match(lines[i]):
            rows = [_cells(line)]
            i += 1  # the |---|---| rule
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            outline.paragraph("\n".join(body))
            body = []
            outline.block(table_block(rows, has_header=True))
            continue
        level, heading = (len(m.group(1)), m.group(2)) if (m := _ATX.match(line)) else (0, None)
        if heading is None and (m := _SETEXT.match(line)) and body and body[-1].strip():
            level, heading = (1 if m.group(1)[0] == "=" else 2), body.pop()  # "Heading\n=====" style
        if heading is None:
            body.append(line)
            continue
        outline.paragraph("\n".join(body))
        body = []
        outline.heading(level, heading)
        title = title or heading
    outline.paragraph("\n".join(body))
    return title, outline.finish()
