"""Checks every Office (OOXML) upload passes before a parser opens it: a sane zip, of the kind its name says."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from ingestion.parsers.model import ParseContext
from services.core.errors import CorruptDocument, DocumentTooLarge
from services.core.formats import OOXML_KINDS

# Office XML compresses well, but not like this; only parts big enough to matter are judged by their ratio.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 10 * 1024 * 1024

_MAIN_PARTS = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml", "xlsx": "xl/workbook.xml"}
# The main part's content type ([Content_Types].xml), for packages that name their parts unusually.
_MAIN_TYPES = {
    "docx": re.compile(rb"(wordprocessingml\.(document|template)|ms-word\.(document|template)\.macroEnabled)\.main"),
    "pptx": re.compile(rb"(presentationml\.(presentation|slideshow)|ms-powerpoint\.\w+\.macroEnabled)\.main"),
    "xlsx": re.compile(rb"(spreadsheetml\.(sheet|template)|ms-excel\.(sheet|template)\.macroEnabled)\.main"),
}
_CONTENT_TYPES_MAX_BYTES = 1024 * 1024


def _megabytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):,.0f} MB"
    return f"{size / 1024:,.0f} KB" if size >= 1024 else f"{size} bytes"


def _kind_of(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    for fmt, part in _MAIN_PARTS.items():
        if part in names:
            return fmt
    info = next((i for i in archive.infolist() if i.filename == "[Content_Types].xml"), None)
    if info is None or info.file_size > _CONTENT_TYPES_MAX_BYTES:
        return None
    content_types = archive.read(info)
    return next((fmt for fmt, pattern in _MAIN_TYPES.items() if pattern.search(content_types)), None)


def check_package(data: bytes, fmt: str, ctx: ParseContext) -> None:
    """Refuse zip bombs (by declared sizes, before anything is inflated) and Office files of the wrong kind."""
    ext = PurePosixPath(ctx.filename).suffix.lower() or f".{fmt}"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CorruptDocument(
            f"could not read {fmt.upper()}: the file is damaged (it is not a valid zip archive)"
        ) from None
    with archive:
        infos = archive.infolist()
        total = sum(info.file_size for info in infos)
        if total > ctx.limits.max_unzipped_bytes:
            raise DocumentTooLarge(
                f"the {fmt.upper()} file unpacks to {_megabytes(total)}; the limit is "
                f"{_megabytes(ctx.limits.max_unzipped_bytes)} (a file this inflated is usually a zip bomb)"
            )
        for info in infos:
            if info.file_size >= RATIO_CHECK_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size // max(info.compress_size, 1)
                raise DocumentTooLarge(
                    f"the {fmt.upper()} file looks like a zip bomb: its part {info.filename!r} unpacks "
                    f"{ratio:,} times over ({_megabytes(info.compress_size)} to {_megabytes(info.file_size)}); "
                    f"Steward refuses compression ratios above {MAX_COMPRESSION_RATIO}"
                )
        kind = _kind_of(archive, set(archive.namelist()))
    if kind != fmt:
        actually = f" (it is {OOXML_KINDS[kind]})" if kind else ""
        raise CorruptDocument(f"{ctx.filename!r} is named {ext} but is not {OOXML_KINDS[fmt]}{actually}")
