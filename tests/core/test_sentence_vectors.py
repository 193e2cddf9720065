"""Sentence vectors stored at ingestion: what is stored, what a chat may take, and the memo that starts with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.core.answers.sentence_vectors import (
    SentenceEncoder,
    StoredSentences,
    fill_missing,
    pack,
    stored_sentences,
    unpack,
)
from services.core.db import migrate
from services.core.db.session import make_engine, make_session_factory, session_scope
from services.core.embedding.memo import MemoEmbed
from tests.support import rows

PASSAGE = (
    "Guests use the network Lobby-Guest.\nThe guest Wi-Fi password is tulip42.\n\nOK.\n- Printers sit on every floor."
)
DIMENSION = 4


def fake_vector(text: str) -> list[float]:
    """A distinct, recognisable vector per text (not unit length: only identity matters here)."""
    return [float(len(text)), float(sum(map(ord, text)) % 97), 1.0, 0.5]


class Recording:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [fake_vector(t) for t in texts]


def test_only_sentences_with_enough_words_are_stored_and_a_blob_unpacks_to_them() -> None:
    sentences = stored_sentences(PASSAGE)
    assert sentences == [
        "Guests use the network Lobby-Guest.",
        "The guest Wi-Fi password is tulip42.",
        "Printers sit on every floor.",
    ]  # "OK." says nothing worth quoting; the list bullet is not part of the sentence
    blob = pack([fake_vector(s) for s in sentences])
    assert len(blob) == len(sentences) * DIMENSION * 2  # float16
    known = unpack(PASSAGE, blob, DIMENSION)
    assert list(known) == sentences
    for sentence in sentences:
        assert known[sentence] == pytest.approx(fake_vector(sentence), rel=1e-3)


def test_a_blob_that_does_not_fit_its_passage_gives_nothing() -> None:
    blob = pack([fake_vector("a"), fake_vector("b")])  # two rows; the passage has three sentences
    assert unpack(PASSAGE, blob, DIMENSION) == {}
    assert unpack(PASSAGE, b"", DIMENSION) == {}
    assert unpack("", b"", DIMENSION) == {}
    assert unpack(PASSAGE, pack([fake_vector(s) for s in stored_sentences(PASSAGE)]), DIMENSION + 1) == {}


def test_the_encoder_embeds_each_distinct_sentence_once_in_one_call() -> None:
    recording = Recording()
    encoder = SentenceEncoder(embed=recording, name="enc")
    overlapping = "The guest Wi-Fi password is tulip42.\nVisitors sign in at the front desk."
    blobs = encoder.encode([PASSAGE, overlapping, "Hi."])
    assert len(recording.calls) == 1
    flat = recording.calls[0]
    assert len(flat) == len(set(flat)) == 4  # the shared sentence once
    assert blobs[2] == b""  # nothing worth storing
    assert list(unpack(overlapping, blobs[1], DIMENSION)) == stored_sentences(overlapping)
    assert encoder.encode([]) == [] and len(recording.calls) == 1


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    return make_session_factory(engine)


def add_chunk(session: Session, chunk_id: str, text: str, blob: bytes | None, encoder: str, index: int) -> None:
    rows.add_chunk(session, chunk_id, text, index=index, sentence_vectors=blob, sentence_encoder=encoder)


def test_a_chat_takes_only_its_own_encoders_vectors_of_the_chunks_it_cites(sessions: sessionmaker[Session]) -> None:
    other = "Visitors sign in at the front desk.\nBadges are returned at the exit gate."
    blob = SentenceEncoder(embed=Recording(), name="int8-a").encode([PASSAGE, other])
    with session_scope(sessions) as session:
        rows.add_document(session)
        add_chunk(session, "c1", PASSAGE, blob[0], "int8-a", 0)
        add_chunk(session, "c2", other, blob[1], "int8-b", 1)  # another encoder's (another torch build, say)
        add_chunk(session, "c3", "Parking is free for visitors on weekends.", None, "", 2)  # ingested before
    stored = StoredSentences(sessions=sessions, name="int8-a", dimension=DIMENSION)
    known = stored.known(["c1", "c2", "c3", "missing"])
    assert list(known) == stored_sentences(PASSAGE)
    assert stored.known([]) == {} and stored.known(["c2", "c3"]) == {}


def test_the_memo_starts_with_known_vectors_and_embeds_only_the_rest() -> None:
    recording = Recording()
    known = {"The guest Wi-Fi password is tulip42.": fake_vector("stored")}
    memo = MemoEmbed(recording, lambda: known)
    vectors = memo(["What is the password?", "The guest Wi-Fi password is tulip42."])
    assert recording.calls == [["What is the password?"]]
    assert vectors[1] == fake_vector("stored") and memo.embedded == 1


def test_the_memo_reads_the_known_vectors_at_its_first_call_only() -> None:
    """Not when it is made (before the model's first token), and once."""
    recording = Recording()
    reads: list[int] = []

    def read() -> dict[str, list[float]]:
        reads.append(1)
        return {"Printers sit on every floor.": fake_vector("stored")}

    memo = MemoEmbed(recording, read)
    assert reads == []
    assert memo(["Printers sit on every floor.", "Where is the printer?"])[0] == fake_vector("stored")
    assert memo(["Printers sit on every floor."]) == [fake_vector("stored")]
    assert reads == [1] and recording.calls == [["Where is the printer?"]] and memo.embedded == 1


def test_chunks_ingested_before_get_their_vectors_filled_once(sessions: sessionmaker[Session]) -> None:
    """`steward index sentences`: every chunk without this encoder's vectors gets them, batch by batch; a second
    run has nothing to do, and a chunk that already has them is not embedded again."""
    texts = [f"Room {n} on floor {n} seats {n + 4} people with a screen." for n in range(5)]
    encoder = SentenceEncoder(embed=Recording(), name="int8-a")
    with session_scope(sessions) as session:
        rows.add_document(session)
        for n, text in enumerate(texts):
            blob, name = (encoder.encode([text])[0], "int8-a") if n == 0 else (None, "int8-old" if n == 1 else "")
            add_chunk(session, f"c{n}", text, blob, name, n)
    recording = Recording()
    encoder = SentenceEncoder(embed=recording, name="int8-a")
    seen: list[tuple[int, int]] = []
    assert fill_missing(sessions, encoder, batch=3, progress=lambda done, total: seen.append((done, total))) == 4
    assert seen == [(3, 4), (4, 4)]
    assert sorted(t for call in recording.calls for t in call) == sorted(texts[1:])
    known = StoredSentences(sessions=sessions, name="int8-a", dimension=DIMENSION).known([f"c{n}" for n in range(5)])
    assert set(known) == set(texts)
    assert fill_missing(sessions, encoder) == 0 and len(recording.calls) == 2
