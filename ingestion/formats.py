"""Decide an upload's format from its name and first bytes, refusing files whose content disagrees."""

from __future__ import annotations

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
}

CONTENT_TYPES: dict[str, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

ACCEPTED_TYPES_TEXT = "plain text (.txt), Markdown (.md), HTML (.html), PDF (.pdf) or Word (.docx)"

_TEXT_FORMATS = frozenset({"txt", "md", "html"})
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
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
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b in _BINARY_CONTROL)
    return controls * 100 <= len(head)


def decode_text(data: bytes) -> str:
    """Decode a text upload: UTF-8 (BOM allowed), else cp1252, else latin-1, so nothing is lost silently."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def detect_format(filename: str, head: bytes) -> str:
    """Return "txt", "md", "html", "pdf" or "docx"; raise UnsupportedFormat when name or bytes disagree."""
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
    elif fmt == "docx":
        if not head.startswith(_ZIP_MAGIC):
            raise _refuse(filename, "is named .docx but is not a Word document")
    elif fmt in _TEXT_FORMATS and not _looks_like_text(head):
        raise _refuse(filename, f"is named {ext} but contains binary data")
    return fmt
