"""Source sentences embedded once, when their passage is ingested, for every chat that later cites the passage.

A chat's grounding check compares each answer sentence with the source sentences sharing its words, and an
extractive answer ranks source sentences against the question (grounding.py, extractive.py). Embedding those
source sentences was most of Steward's CPU a chat, taken from the cores vLLM decodes on (bench/chat_cpu.py: 149 of
190 ms on the encoder, nearly all of it source sentences). They depend only on the passage, so ingestion embeds
them once, with the encoder the chat uses for them (the int8 copy, Embedder.embed_approximate), and stores them
with the chunk row; the chat's memo starts with them and embeds only what the model wrote, and the question.

Which vectors a chat may take is decided by text, never by position alone: a chat looks a sentence up by its exact
text, so a passage cut to fit the prompt, or redacted, simply finds fewer. Vectors from another encoder (another
model, another build of the int8 copy) are never used: rows carry the name of the encoder that made them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.core.answers.grounding import content_words, source_sentences
from services.core.db.models import Chunk

Embed = Callable[[Sequence[str]], list[list[float]]]

# Only sentences with at least this many content words are stored: an extractive answer quotes no shorter one
# (extractive.MIN_WORDS), and a short one the check compares with costs little, embedded in the same pass as the
# answer sentence it is compared with. A quarter of the eval corpus's source sentences are shorter.
MIN_WORDS = 3
# Stored as float16 (half the bytes; cosines move by about 1e-3, far inside the check's confirm margin).
_DTYPE = np.dtype("<f2")


def stored_sentences(text: str) -> list[str]:
    """The sentences of a passage that get a stored vector, in order: the rows of its blob."""
    return [s for s in source_sentences(text) if len(content_words(s)) >= MIN_WORDS]


def pack(vectors: Sequence[Sequence[float]]) -> bytes:
    return np.asarray(vectors, dtype=_DTYPE).tobytes() if len(vectors) else b""


def unpack(text: str, blob: bytes, dimension: int) -> dict[str, list[float]]:
    """Sentence -> vector for a passage's stored blob; nothing when the blob does not fit the passage."""
    sentences = stored_sentences(text)
    if not sentences or len(blob) != len(sentences) * dimension * _DTYPE.itemsize:
        return {}
    rows = np.frombuffer(blob, dtype=_DTYPE).reshape(len(sentences), dimension).astype(np.float64)
    return dict(zip(sentences, rows.tolist(), strict=True))


class SentenceEncoder:
    """Embeds the sentences of passages at ingestion, with the encoder a chat compares them with (`name` says
    which: a chat ignores vectors of any other)."""

    def __init__(self, *, embed: Embed, name: str) -> None:
        self._embed = embed
        self.name = name

    def encode(self, texts: Sequence[str]) -> list[bytes]:
        """One blob per passage (empty for a passage with no sentence worth storing), in one call to the encoder."""
        per_text = [stored_sentences(text) for text in texts]
        # Neighbouring chunks overlap, and lists repeat lines: each distinct sentence is embedded once.
        distinct = list(dict.fromkeys(sentence for sentences in per_text for sentence in sentences))
        vectors = dict(zip(distinct, self._embed(distinct), strict=True)) if distinct else {}
        return [pack([vectors[sentence] for sentence in sentences]) for sentences in per_text]


class StoredSentences:
    """A chat's side: the stored vectors of the sentences of the passages it cites, from the chunk rows."""

    def __init__(self, *, sessions: sessionmaker[Session], name: str, dimension: int) -> None:
        self._sessions = sessions
        self._name = name
        self._dimension = dimension

    def known(self, chunk_ids: Iterable[str]) -> dict[str, list[float]]:
        """Sentence -> vector for the stored sentences of these chunks. A chat looks its texts up by their exact
        wording, so a passage cut to fit the prompt finds only the sentences it still holds."""
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(Chunk.text, Chunk.sentence_vectors).where(
                    Chunk.id.in_(ids), Chunk.sentence_encoder == self._name
                )
            ).all()
        found: dict[str, list[float]] = {}
        for text, blob in rows:
            if blob:
                found.update(unpack(text, blob, self._dimension))
        return found


def fill_missing(
    sessions: sessionmaker[Session],
    encoder: SentenceEncoder,
    *,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Stores sentence vectors for chunks that have none of `encoder`'s (ingested before they existed, or by
    another encoder); returns how many chunks it filled. Each batch commits on its own, so an interrupted run
    keeps what it did and the next one carries on; a chunk replaced meanwhile (a new version) is skipped.
    `progress(done, total)` after every batch."""
    stale = Chunk.sentence_encoder != encoder.name
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(Chunk).where(stale)) or 0
    done = 0
    after = ""
    while True:
        with sessions() as session:
            rows = session.execute(
                select(Chunk.id, Chunk.text).where(stale, Chunk.id > after).order_by(Chunk.id).limit(batch)
            ).all()
        if not rows:
            return done
        after = rows[-1][0]
        blobs = encoder.encode([text for _, text in rows])
        with sessions() as session:
            for (chunk_id, text), blob in zip(rows, blobs, strict=True):
                # Only if the row still holds that text: a version ingested meanwhile brought its own.
                session.execute(
                    update(Chunk)
                    .where(Chunk.id == chunk_id, Chunk.text == text)
                    .values(sentence_vectors=blob, sentence_encoder=encoder.name)
                )
            session.commit()
        done += len(rows)
        if progress is not None:
            progress(done, total)
