"""HTML: the page's main content as heading-scoped sections; menus, banners, sidebars and cookie notices are dropped."""

from __future__ import annotations

import codecs
import re

from lxml import etree
from lxml import html as lxml_html

from ingestion.parsers.model import Block, ParseContext, RawDocument
from ingestion.parsers.text import Outline, table_block
from services.core.formats import decode_text

# libxml2's HTML parser never fetches URLs and does not expand DTD entities, so hostile markup is inert.
_PARSER = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")

_DROP_TAGS = frozenset(
    {"head", "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "nav", "aside"}
    | {"button", "select", "option", "datalist", "dialog", "menu"}
)
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
# <header>/<footer> are page furniture unless they belong to an article or section (HTML-AAM's banner rule).
_SECTIONING = frozenset({"article", "main", "section", "aside", "nav"})
_FURNITURE_WORDS = frozenset({"nav", "navbar", "navigation", "menu", "menus", "sidebar", "breadcrumb", "breadcrumbs"})
_FURNITURE_PREFIXES = ("cookie", "breadcrumb", "sidebar", "navbar", "consent", "gdpr", "menu")
_FURNITURE_SUFFIXES = ("menu", "navbar", "navigation", "sidebar")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "header", "footer", "blockquote", "table", "thead", "tbody"}
    | {"tfoot", "tr", "td", "th", "caption", "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "form"}
    | {"fieldset", "hr", "address", "details", "summary", "center"}
)
_SPACES = re.compile(r"\s+")


def _decode(data: bytes) -> str:
    """The charset a <meta> declares (as browsers read it), else UTF-8, else cp1252."""
    if (m := _META_CHARSET.search(data[:4096])) and not data.startswith((codecs.BOM_UTF8, b"\xff\xfe", b"\xfe\xff")):
        try:
            name = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            name = ""
        if name:
            # Browsers read latin-1 and ASCII declarations as windows-1252, and so do we.
            return data.decode("cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name, errors="replace")
    return decode_text(data)


def _class_words(el: etree._Element) -> list[str]:
    return _WORD_SPLIT.split(f"{el.get('class') or ''} {el.get('id') or ''}".lower())


def _is_furniture_word(word: str) -> bool:
    return word in _FURNITURE_WORDS or word.startswith(_FURNITURE_PREFIXES) or word.endswith(_FURNITURE_SUFFIXES)


def _looks_like_furniture(el: etree._Element) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    if (style := el.get("style")) and _HIDDEN_STYLE.search(style.lower()):
        return True
    if _DROP_ROLES.intersection((el.get("role") or "").lower().split()):
        return True
    if el.tag in ("header", "footer"):
        return not any(a.tag in _SECTIONING or a.get("role") == "main" for a in el.iterancestors())
    if not (el.get("class") or el.get("id")):
        return False
    words = _class_words(el)
    return (
        any(_is_furniture_word(word) for word in words)
        or ("skip" in words and "link" in words)
        or ("site" in words and ("header" in words or "footer" in words))
    )


def _holds_the_content(el: etree._Element, page_chars: int) -> bool:
    """Markup heuristics misfire (a "has-sidebar" wrapper, a hidden app root): never drop the page's content."""
    if el.tag in ("html", "body", "main", "article"):
        return True
    if el.xpath("boolean(.//main | .//article | .//h1 | .//*[@role='main'])"):
        return True
    return len(el.text_content()) * 2 > page_chars


def _drop_furniture(doc: etree._Element) -> None:
    """Drop what is never content (scripts, navigation, ...), then page furniture recognised by its markup."""
    for el in [el for el in doc.iter() if not isinstance(el.tag, str) or el.tag in _DROP_TAGS]:
        if el.getparent() is not None:
            el.drop_tree()
    page_chars = len(doc.text_content())
    for el in [el for el in doc.iter() if _looks_like_furniture(el) and not _holds_the_content(el, page_chars)]:
        if el.getparent() is not None:
            el.drop_tree()


def _is_data_table(table: etree._Element) -> bool:
    if (table.get("role") or "").lower() in ("presentation", "none"):
        return False
    return not table.xpath("boolean(.//table | .//h1 | .//h2 | .//h3 | .//h4 | .//h5 | .//h6)")


def _table(table: etree._Element) -> Block | None:
    rows: list[list[str]] = []
    has_header = False
    for i, tr in enumerate(table.iter("tr")):
        cells = [cell for cell in tr if cell.tag in ("td", "th")]
        if i == 0:
            has_header = tr.getparent().tag == "thead" or all(cell.tag == "th" for cell in cells)
        rows.append([cell.text_content() for cell in cells])
    return table_block(rows, has_header=has_header)


class _Text:
    """Inline text with HTML whitespace rules; block boundaries become blank lines."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def add(self, text: str) -> None:
        piece = _SPACES.sub(" ", text)
        if not self._parts or self._parts[-1].endswith((" ", "\n")):
            piece = piece.lstrip(" ")
        if piece:
            self._parts.append(piece)

    def raw(self, text: str) -> None:
        self._parts.append(text)

    def take(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        return text


def _walk(root: etree._Element, outline: Outline) -> None:
    """Depth-first without recursion, so deeply nested markup cannot overflow the stack."""
    text = _Text()
    if root.text:
        text.add(root.text)
    stack: list[tuple[etree._Element, bool]] = [(child, False) for child in reversed(root)]
    while stack:
        el, closing = stack.pop()
        tag = el.tag
        if closing:
            text.raw("\n" if tag == "li" else "\n\n" if tag in _BLOCKS else "")
        elif not isinstance(tag, str):
            pass  # an entity reference or other non-element node
        elif tag in _HEADINGS:
            outline.paragraph(text.take())
            outline.heading(int(tag[1]), el.text_content())
        elif tag == "table" and _is_data_table(el):
            caption = el.find("caption")
            outline.paragraph(text.take() + ("" if caption is None else f"\n\n{caption.text_content()}"))
            outline.block(_table(el))
        elif tag == "pre":
            text.raw(f"\n\n{el.text_content()}\n\n")
        elif tag == "br":
            text.raw("\n")
        else:
            text.raw("\n- " if tag == "li" else "\n\n" if tag in _BLOCKS else "")
            if el.text:
                text.add(el.text)
            stack.append((el, True))
            stack.extend((child, False) for child in reversed(el))
            continue
        if el.tail:
            text.add(el.tail)
    outline.paragraph(text.take())


def html_document(markup: str) -> RawDocument:
    """Title and sections of an HTML page given as text (also used for HTML email bodies)."""
    try:
        doc = lxml_html.document_fromstring(_XML_DECLARATION.sub("", markup), parser=_PARSER)
    except etree.ParserError:
        return "", []  # nothing but whitespace or comments
    title_el = doc.find(".//title")
    title = title_el.text_content() if title_el is not None else ""
    _drop_furniture(doc)
    body = doc.find("body")
    body = doc if body is None else body
    mains = doc.xpath("//main | //*[@role='main']")
    articles = doc.xpath("//article")
    root = mains[0] if mains else articles[0] if len(articles) == 1 else body
    outline = Outline()
    _walk(root, outline)
    sections = outline.finish()
    if not sections and root is not body:
        outline = Outline()  # an empty <main>: the content is elsewhere on the page
        _walk(body, outline)
        sections = outline.finish()
    first_heading = next((s.heading_path[0] for s in sections if s.heading_path), "")
    return title or first_heading, sections


def parse_html(data: bytes, ctx: ParseContext) -> RawDocument:
    return html_document(_decode(data))
