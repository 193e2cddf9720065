"""EML: a header block (From/To/Cc/Date/Subject), the body (plain text preferred), and readable attachments."""

from __future__ import annotations

import email
import logging
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message

from ingestion.parsers.model import Block, ParseContext, RawDocument, Section
from ingestion.parsers.text import Outline, normalise, one_line
from ingestion.parsers.web import html_document
from services.core.errors import EmptyDocument, StewardError
from services.core.formats import HEAD_BYTES, decode_text, detect_format

log = logging.getLogger(__name__)

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
ATTACHED_MESSAGE_NAME = "attached message.eml"


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
        return one_line(str(value)) if value is not None else ""
    except Exception:  # a malformed header must not cost the message
        return ""


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError):
        pass  # an unknown or lying charset: decode the bytes ourselves
    payload = part.get_payload(decode=True)
    return decode_text(payload) if isinstance(payload, bytes) else ""


def _parts(message: Message) -> Iterator[Message]:
    """Every leaf part and attached message, without descending into attached messages."""
    for part in message.iter_parts() if isinstance(message, EmailMessage) else ():
        if part.get_content_type() == "message/rfc822" or not part.is_multipart():
            yield part
        else:
            yield from _parts(part)


def _body_sections(message: EmailMessage) -> tuple[Message | None, list[Section]]:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None, []
    if body.get_content_subtype() == "html":
        return body, html_document(_text_of(body))[1]
    outline = Outline()
    outline.paragraph(_text_of(body))
    return body, outline.finish()


def _attachment(part: Message, ctx: ParseContext) -> list[Section]:
    """The attachment's sections, headed by and located at its filename; [] when it cannot be read."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else None
        filename = part.get_filename() or ATTACHED_MESSAGE_NAME
        data = inner.as_bytes() if isinstance(inner, Message) else b""
    else:
        filename = part.get_filename() or ""
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
    filename = one_line(filename.replace("\\", "/").rsplit("/", 1)[-1])
    if not filename or not data.strip():
        return []
    try:
        fmt = detect_format(filename, data[:HEAD_BYTES])
        parsed = ctx.parse_nested(data, fmt, filename, ctx.limits, ctx.depth + 1)
    except EmptyDocument:
        return []
    except StewardError as exc:
        log.info("skipping attachment %r: %s", filename, exc.message)
        return []
    sections = []
    for section in parsed.sections:
        inner_name = section.location.get("attachment")
        location = {**section.location, "attachment": f"{filename} > {inner_name}" if inner_name else filename}
        sections.append(Section((filename, *section.heading_path), section.blocks, location))
    return sections


def parse_eml(data: bytes, ctx: ParseContext) -> RawDocument:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    headers = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    body, sections = _body_sections(message)
    header_block = (Block("text", normalise("\n".join(headers))),) if headers else ()
    if sections and not sections[0].heading_path:
        sections[0] = Section((), header_block + sections[0].blocks, sections[0].location)
    elif header_block:
        sections.insert(0, Section((), header_block))
    if ctx.depth < ctx.limits.max_attachment_depth:
        for part in _parts(message):
            if part is not body:
                sections.extend(_attachment(part, ctx))
    return _header(message, "Subject"), sections
