"""A question is embedded once a request (screened, then searched), and never remembered across requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.concurrency import run_in_threadpool

from services.core.embedding.dense import Embedder, one_request_queries
from services.core.settings import Settings


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    embedder = Embedder(Settings().embedding_model, replicas=1)
    yield embedder
    embedder.close()


def record_passes(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every forward pass `embedder` makes from now on, as its texts."""
    seen: list[list[str]] = []
    encode_pass = embedder.encode_pass

    def counting(batch: list[str], approximate: bool = False, *, urgent: bool = False) -> list[list[float]]:
        seen.append(list(batch))
        return encode_pass(batch, approximate, urgent=urgent)

    monkeypatch.setattr(embedder, "encode_pass", counting)
    return seen


@pytest.fixture
def passes(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    return record_passes(embedder, monkeypatch)


QUESTION = "How many days of annual leave do new employees get?"


def test_within_a_request_the_question_is_embedded_once_across_its_worker_threads(
    embedder: Embedder, passes: list[list[str]]
) -> None:
    async def one_request() -> tuple[list[float], list[float]]:
        # As the chat planner does: the screen on one worker thread, the search on another.
        with one_request_queries():
            screened = await run_in_threadpool(embedder.embed_query, QUESTION)
            searched = await run_in_threadpool(embedder.embed_query, QUESTION)
        return screened, searched

    screened, searched = asyncio.run(one_request())
    assert passes == [[QUESTION]]
    assert screened == searched
    assert len(screened) == embedder.dimension


def test_a_new_request_embeds_the_same_question_again(embedder: Embedder, passes: list[list[str]]) -> None:
    """No memo across requests: a repeated question costs what a new one does (what the benches measure)."""
    for _ in range(2):
        with one_request_queries():
            embedder.embed_query(QUESTION)
    embedder.embed_query(QUESTION)  # outside any request: nothing remembered at all
    embedder.embed_query(QUESTION)
    assert passes == [[QUESTION]] * 4


def test_two_encoders_in_one_request_never_share_a_vector(
    embedder: Embedder, passes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tuned encoder searches while the shipped one screens: each must get its own model's vector."""
    other = Embedder(Settings().embedding_model, replicas=1)
    other_passes = record_passes(other, monkeypatch)
    try:
        with one_request_queries():
            embedder.embed_query(QUESTION)
            other.embed_query(QUESTION)  # not served from the first encoder's entry
            other.embed_query(QUESTION)  # but from its own
        assert passes == [[QUESTION]]
        assert other_passes == [[QUESTION]]
    finally:
        other.close()
