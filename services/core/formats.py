"""Decide an upload's format from its name and first bytes, refusing files whose content disagrees."""

from __future__ import annotations

import codecs

from services.core.errors import UnsupportedFormat

# How many leading bytes callers should pass as `head`; enough for every check below.
HEAD_BYTES = 8192

SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".eml": "eml",
}

CONTENT_TYPES: dict[str, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "eml": "message/rfc822",
}

ACCEPTED_TYPES_TEXT = (
    "plain text (.txt), Markdown (.md), HTML (.html), PDF (.pdf), Word (.docx), PowerPoint (.pptx), "
    "Excel (.xlsx), CSV (.csv) or email (.eml)"
)

# What each Office format is called in messages; its main part is checked by the parser (see parsers/ooxml.py).
OOXML_KINDS: dict[str, str] = {
    "docx": "a Word document",
    "pptx": "a PowerPoint presentation",
    "xlsx": "an Excel workbook",
}

_TEXT_FORMATS = frozenset({"txt", "md", "html", "csv", "eml"})
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
# Legacy (97-2003) Office files and password-protected .docx/.pptx/.xlsx are OLE compound files.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_PDF_MAGIC_WINDOW = 1024
# Control bytes that never appear in real text files; tab, newlines and form feed are fine.
_BINARY_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


def _extension(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def _refuse(filename: str, why: str) -> UnsupportedFormat:
    return UnsupportedFormat(f"{filename!r} {why}; Steward accepts {ACCEPTED_TYPES_TEXT}")


def _looks_like_text(head: bytes) -> bool:
    # Any encoding decode_text accepts will do, so binary is spotted by NULs and stray control bytes.
    if head.startswith(_UTF16_BOMS):
        codes = [ord(c) for c in head[: len(head) // 2 * 2].decode("utf-16", errors="replace")]
    elif b"\x00" in head:
        return False
    else:
        codes = list(head)
    controls = sum(1 for c in codes if c in _BINARY_CONTROL or c == 0)
    return controls * 100 <= len(codes)


def decode_text(data: bytes) -> str:
    """Decode a text upload: UTF-16 with a BOM, UTF-8 (BOM allowed), else cp1252, else latin-1; nothing is lost."""
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def detect_format(filename: str, head: bytes) -> str:
    """Return a key of CONTENT_TYPES ("pdf", "docx", ...); raise UnsupportedFormat when name or bytes disagree.

    `head` is the first HEAD_BYTES bytes (or the whole file). Office files are only checked for being
    zip archives here; the parser checks that the archive holds the right kind of document.
    """
    ext = _extension(filename)
    fmt = SUPPORTED_EXTENSIONS.get(ext)
    if fmt is None:
        raise _refuse(filename, f"has an unsupported type ({ext or 'no extension'})")
    if not head.strip():
        return fmt  # empty uploads are reported by the parser as EmptyDocument, not as a bad type
    if fmt == "pdf":
        stripped = head[:_PDF_MAGIC_WINDOW].lstrip(b"\xef\xbb\xbf \t\r\n\x0c")
        if not stripped.startswith(_PDF_MAGIC):
            raise _refuse(filename, "is named .pdf but is not a PDF")
    elif fmt in OOXML_KINDS:
        if head.startswith(_OLE_MAGIC):
            raise _refuse(
                filename,
                f"is password-protected or in the old Office 97-2003 format; remove the password or save it as {ext}",
            )
        if not head.startswith(_ZIP_MAGIC):
            raise _refuse(filename, f"is named {ext} but is not {OOXML_KINDS[fmt]}")
    elif fmt in _TEXT_FORMATS and not _looks_like_text(head):
        raise _refuse(filename, f"is named {ext} but contains binary data")
    return fmt
