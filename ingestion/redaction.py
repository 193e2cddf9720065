"""settings.pii_ingestion=redact_stored: personal data leaves a document's chunks before they are embedded
and stored, so neither the vectors, the BM25 terms, the payloads nor the chunk rows ever hold it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from ingestion.chunker import Chunk
from services.core.pii import PiiGuard, Placeholders


def redact_chunks(guard: PiiGuard, chunks: Sequence[Chunk]) -> list[Chunk]:
    """The chunks with placeholders numbered across the whole document (one person is <PERSON_1> in every
    chunk). Deterministic: the same text gives the same redacted chunks, so re-ingesting an unchanged
    version reuses every vector; a new value early on renumbers later ones, whose chunks are re-embedded."""
    if not guard.redact_stored or not chunks:
        return list(chunks)
    scope = Placeholders()
    # One batch for texts and headings: headings are embedded too (the context prefix) and may name people.
    distinct = list(dict.fromkeys(c.heading for c in chunks))
    redacted = dict(zip(distinct, guard.redact_many(distinct, scope), strict=True))
    headings = [redacted[c.heading] for c in chunks]
    texts = guard.redact_many([c.text for c in chunks], scope)
    return [
        c
        if (text == c.text and heading == c.heading)
        else replace(c, heading=heading, text=text, text_hash=hashlib.sha256(text.encode("utf-8")).hexdigest())
        for c, heading, text in zip(chunks, headings, texts, strict=True)
    ]
