"""BM25 sparse vectors for keyword search, computed in-process so every vector store gets identical ones.

Qdrant Edge's Bm25 tokenises (words, lowercased, English stopwords dropped, Snowball-stemmed) and hashes each
term to a dimension; document values carry the term-frequency part of BM25 and the engine applies the IDF
(the collection's sparse vector has the IDF modifier), so the same vectors work on Qdrant Edge and a Qdrant
server alike.

Identifiers are the one thing plain word tokenising gets wrong: `ERR-4012` becomes "err" and "4012", which
match every other error code and every 4012 in the corpus. So each identifier-like code also gets one glued
token ("err4012") beside its parts, on the document and on the query side alike, and a code matches as a whole.
"""

from __future__ import annotations

import re
from functools import lru_cache

import qdrant_edge as qe

from services.core.vectorstore.port import SparseVector

# BM25 length normalisation wants the mean chunk length in BM25 terms (stopwords dropped, repeats counted).
# Measured on the evaluation corpus' embedding texts (tests/data/eval): full chunks (>= 170 of the 200 MiniLM
# tokens) have 86 terms, about 0.48 per MiniLM token. That corpus is mostly short documents (mean 47 terms per
# chunk), yet 80 ranked its keyword questions better than 47 (sparse MRR 0.875 vs 0.824): a short chunk should
# not win just for being short, and real collections are mostly full chunks.
AVG_LEN = 80.0
# Written beside every sparse vector (payload "sparse_model"): change it whenever tokens or weights change,
# and re-indexing recomputes the sparse vectors of chunks whose text did not change.
VERSION = "bm25-en-glued-v1"

_SEPARATORS = re.compile(r"[-_./]")
# Letter/digit runs joined by - _ . / : ERR-4012, VPN_GW-2, INV-2024-0091, 77-A, HH-3.14.
_JOINED = re.compile(r"[^\W_]+(?:[-_./][^\W_]+)+")
# A short word before a number-led code: "SKU 77-A", "PO 5512", "ERR 4012" (so it matches "ERR-4012").
_PREFIXED = re.compile(r"\b([^\W\d_]{2,8}) ([0-9][^\W_]*(?:[-_./][^\W_]+)*)")


class SparseEncoder:
    """Text -> BM25 sparse vector. Cheap to build, stateless and safe to share between threads."""

    version = VERSION

    def __init__(self, avg_len: float = AVG_LEN) -> None:
        self._bm25 = qe.Bm25(qe.Bm25Config(avg_len=avg_len, language="english"))
        self._is_stopword = lru_cache(maxsize=4096)(self._stopword)

    def encode_document(self, text: str) -> SparseVector:
        """Term-frequency weights of a chunk (what gets indexed)."""
        return _values(self._bm25.embed_document(self._with_codes(text)))

    def encode_query(self, text: str) -> SparseVector:
        """Weight 1 for each distinct term of a query; empty when the query has only stopwords."""
        return _values(self._bm25.embed_query(self._with_codes(text)))

    def _with_codes(self, text: str) -> str:
        glued = [_glue(m.group(0)) for m in _JOINED.finditer(text)]
        glued += [_glue(m.group(1) + m.group(2)) for m in _PREFIXED.finditer(text) if not self._is_stopword(m.group(1))]
        # Only codes with a letter and a digit: gluing "3.5" into "35" would match the number 35.
        codes = [g for g in glued if any(c.isdigit() for c in g) and any(c.isalpha() for c in g)]
        return f"{text}\n{' '.join(codes)}" if codes else text

    def _stopword(self, word: str) -> bool:
        # The stopword list lives inside the tokenizer: a stopword is a word that yields no term.
        return not self._bm25.embed_query(word).indices


def _glue(code: str) -> str:
    return _SEPARATORS.sub("", code).lower()


def _values(vector: qe.SparseVector) -> SparseVector:
    return SparseVector(indices=tuple(vector.indices), values=tuple(vector.values))
