"""One contract for every vector-store adapter that runs here: Qdrant Edge and in-memory qdrant-client."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.core.errors import ConfigurationError
from services.core.settings import Settings
from services.core.vectorstore import (
    ChunkPoint,
    ScoredChunk,
    VectorStore,
    build_vector_store,
    vector_stores,
)
from services.core.vectorstore.edge import QdrantEdgeStore
from services.core.vectorstore.qdrant import QdrantServerStore

DIM = 8
COLLECTION = "contract"
Factory = Callable[[], VectorStore]


def point_id(document_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document_id}#{index}"))


def axis(k: int, tilt: float = 0.0) -> list[float]:
    """A unit axis, optionally tilted towards the next axis, so every vector has a distinct direction."""
    v = [0.0] * DIM
    v[k % DIM] = 1.0
    v[(k + 1) % DIM] = tilt
    return v


def chunk(document_id: str, index: int, groups: list[str], vector: list[float], text: str = "") -> ChunkPoint:
    return ChunkPoint(
        id=point_id(document_id, index),
        vector=vector,
        document_id=document_id,
        chunk_index=index,
        groups=groups,
        title=f"{document_id} title",
        heading=f"section {index}",
        text=text or f"{document_id} chunk {index}",
        text_hash=f"hash-{document_id}-{index}",
    )


# hr-handbook lives around axis 0, eng-wiki around axis 3, all-hands (both groups) around axis 6.
CORPUS = [
    *(chunk("hr-handbook", i, ["hr"], axis(0, 0.1 * i)) for i in range(3)),
    *(chunk("eng-wiki", i, ["eng"], axis(3, 0.1 * i)) for i in range(3)),
    *(chunk("all-hands", i, ["hr", "eng"], axis(6, 0.1 * i)) for i in range(2)),
]


def edge_factory(tmp_path: Path) -> Factory:
    return lambda: QdrantEdgeStore(tmp_path / "shard", COLLECTION)


def memory_factory(tmp_path: Path) -> Factory:
    return lambda: QdrantServerStore(":memory:", COLLECTION)


@pytest.fixture(params=[edge_factory, memory_factory], ids=["qdrant_edge", "qdrant_memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[VectorStore] = []

    def make() -> VectorStore:
        store: VectorStore = request.param(tmp_path)()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Factory) -> VectorStore:
    s = make_store()
    s.ensure_collection(DIM)
    s.upsert(CORPUS)
    return s


def ids(hits: list[ScoredChunk]) -> list[str]:
    return [h.id for h in hits]


def test_upsert_then_count_counts_every_point(store: VectorStore) -> None:
    assert store.count() == len(CORPUS)


def test_reupserting_same_ids_overwrites_instead_of_duplicating(store: VectorStore) -> None:
    edited = chunk("hr-handbook", 0, ["hr"], axis(0), text="revised policy")
    store.upsert([*CORPUS, edited])
    assert store.count() == len(CORPUS)
    best = store.search(axis(0), limit=1, allowed_groups=None)[0]
    assert (best.id, best.text) == (edited.id, "revised policy")


def test_search_returns_best_first_with_full_payload(store: VectorStore) -> None:
    hits = store.search(axis(3, 0.1), limit=3, allowed_groups=None)
    assert ids(hits) == [point_id("eng-wiki", 1), point_id("eng-wiki", 2), point_id("eng-wiki", 0)]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    top = hits[0]
    assert (top.document_id, top.chunk_index, top.title, top.heading, top.text, top.groups) == (
        "eng-wiki",
        1,
        "eng-wiki title",
        "section 1",
        "eng-wiki chunk 1",
        ("eng",),
    )


def test_search_respects_limit(store: VectorStore) -> None:
    assert len(store.search(axis(0), limit=2, allowed_groups=None)) == 2


def test_filtered_search_returns_only_chunks_sharing_a_group(store: VectorStore) -> None:
    hits = store.search(axis(0), limit=10, allowed_groups=["eng"])
    assert hits
    assert all("eng" in h.groups for h in hits)
    assert {h.document_id for h in hits} == {"eng-wiki", "all-hands"}


def test_principal_without_group_never_sees_chunk(store: VectorStore) -> None:
    # The query is an hr chunk's own vector; an eng-only principal must still not get it, even at rank 1.
    hits = store.search(axis(0), limit=len(CORPUS), allowed_groups=["eng"])
    assert not any(h.document_id == "hr-handbook" for h in hits)
    assert store.search(axis(0), limit=len(CORPUS), allowed_groups=["finance"]) == []


def test_principal_with_several_groups_sees_any_match(store: VectorStore) -> None:
    hits = store.search(axis(0), limit=len(CORPUS), allowed_groups=["finance", "hr"])
    assert {h.document_id for h in hits} == {"hr-handbook", "all-hands"}


def test_empty_group_list_sees_nothing(store: VectorStore) -> None:
    assert store.search(axis(0), limit=10, allowed_groups=[]) == []


def test_unrestricted_search_sees_every_group(store: VectorStore) -> None:
    hits = store.search(axis(0), limit=len(CORPUS), allowed_groups=None)
    assert {h.document_id for h in hits} == {"hr-handbook", "eng-wiki", "all-hands"}


def test_delete_document_removes_exactly_that_documents_points(store: VectorStore) -> None:
    store.delete_document("eng-wiki")
    assert store.count("eng-wiki") == 0
    assert store.count() == len(CORPUS) - 3
    assert store.count("hr-handbook") == 3
    assert "eng-wiki" not in {h.document_id for h in store.search(axis(3), limit=10, allowed_groups=None)}


def test_delete_unknown_document_is_a_noop(store: VectorStore) -> None:
    store.delete_document("never-ingested")
    assert store.count() == len(CORPUS)


def test_document_points_lists_ids_and_payload_without_text(store: VectorStore) -> None:
    store.upsert(CORPUS)
    points = store.document_points("eng-wiki")
    assert set(points) == {point_id("eng-wiki", i) for i in range(3)}
    assert points[point_id("eng-wiki", 1)]["chunk_index"] == 1
    assert points[point_id("eng-wiki", 1)]["groups"] == ["eng"]
    assert all("text" not in payload for payload in points.values())
    assert store.document_points("no-such-document") == {}


def test_set_payloads_changes_acl_and_position_but_keeps_the_vector(store: VectorStore) -> None:
    store.upsert(CORPUS)
    target = point_id("hr-handbook", 0)
    store.set_payloads({target: {"groups": ["finance"], "chunk_index": 7, "location": {"page": 3}}})
    assert store.search(axis(0), 8, ["hr"])[0].id != target  # hr lost access inside the query
    top = store.search(axis(0), 1, ["finance"])[0]
    assert (top.id, top.chunk_index, top.text, dict(top.location)) == (target, 7, "hr-handbook chunk 0", {"page": 3})
    assert top.score == pytest.approx(1.0, abs=1e-5)  # same vector as before


def test_delete_points_removes_only_those_ids(store: VectorStore) -> None:
    store.upsert(CORPUS)
    store.delete_points([point_id("eng-wiki", 0), point_id("eng-wiki", 2), "00000000-0000-0000-0000-000000000000"])
    assert set(store.document_points("eng-wiki")) == {point_id("eng-wiki", 1)}
    assert store.count() == len(CORPUS) - 2
    store.delete_points([])


def test_count_per_document(store: VectorStore) -> None:
    assert (store.count("hr-handbook"), store.count("eng-wiki"), store.count("all-hands")) == (3, 3, 2)
    assert store.count("never-ingested") == 0


def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    assert store.count() == len(CORPUS)


def test_ensure_collection_with_other_dimension_is_a_configuration_error(store: VectorStore) -> None:
    with pytest.raises(ConfigurationError, match="dimension"):
        store.ensure_collection(DIM * 2)


def test_store_without_collection_is_empty_not_an_error(make_store: Factory) -> None:
    fresh = make_store()
    assert fresh.count() == 0
    assert fresh.search(axis(0), limit=5, allowed_groups=None) == []
    fresh.delete_document("hr-handbook")


def test_both_adapters_return_same_ids_in_same_order(tmp_path: Path) -> None:
    # Generic directions, so no two chunks tie (tied scores have no defined order in either engine).
    rng = random.Random(7)
    queries = [[rng.uniform(0.05, 1.0) for _ in range(DIM)] for _ in range(6)]
    stores = [edge_factory(tmp_path)(), memory_factory(tmp_path)()]
    try:
        for s in stores:
            s.ensure_collection(DIM)
            s.upsert(CORPUS)
        for query in queries:
            for groups in (None, ["hr"], ["eng"], ["finance"]):
                edge, memory = (s.search(query, limit=5, allowed_groups=groups) for s in stores)
                assert ids(edge) == ids(memory), (query, groups)
                assert [h.score for h in edge] == pytest.approx([h.score for h in memory], abs=1e-5)
    finally:
        for s in stores:
            s.close()


def test_edge_data_persists_after_close_and_reopen(tmp_path: Path) -> None:
    first = QdrantEdgeStore(tmp_path, COLLECTION)
    first.ensure_collection(DIM)
    first.upsert(CORPUS)
    first.close()
    reopened = QdrantEdgeStore(tmp_path, COLLECTION)
    try:
        assert reopened.count() == len(CORPUS)
        assert reopened.search(axis(0), limit=1, allowed_groups=["hr"])[0].id == point_id("hr-handbook", 0)
        reopened.ensure_collection(DIM)
    finally:
        reopened.close()


def test_edge_second_handle_on_open_shard_is_a_configuration_error(tmp_path: Path) -> None:
    owner = QdrantEdgeStore(tmp_path, COLLECTION)
    owner.ensure_collection(DIM)
    try:
        with pytest.raises(ConfigurationError, match="in use by another process"):
            QdrantEdgeStore(tmp_path, COLLECTION)
    finally:
        owner.close()
    QdrantEdgeStore(tmp_path, COLLECTION).close()  # the lock is released once the owner closes


def test_edge_second_handle_created_before_shard_exists_is_refused_on_ensure(tmp_path: Path) -> None:
    early, late = QdrantEdgeStore(tmp_path, COLLECTION), QdrantEdgeStore(tmp_path, COLLECTION)
    early.ensure_collection(DIM)
    try:
        with pytest.raises(ConfigurationError, match="in use"):
            late.ensure_collection(DIM)
    finally:
        early.close()
        late.close()


def test_edge_store_refuses_calls_after_close(tmp_path: Path) -> None:
    s = QdrantEdgeStore(tmp_path, COLLECTION)
    s.ensure_collection(DIM)
    s.close()
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.count()


def test_edge_concurrent_upserts_and_searches_from_threads(tmp_path: Path) -> None:
    s = QdrantEdgeStore(tmp_path, COLLECTION)
    s.ensure_collection(DIM)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(50):
                s.upsert([chunk(f"doc-{worker}", i, [f"g{worker}"], axis(worker, 0.01 * i))])
        except BaseException as exc:
            errors.append(exc)

    def reader(worker: int) -> None:
        try:
            for _ in range(50):
                for hit in s.search(axis(worker), limit=5, allowed_groups=[f"g{worker}"]):
                    assert hit.groups == (f"g{worker}",)
                s.count()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f, args=(w,)) for w in range(4) for f in (writer, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert s.count() == 200
        assert all(s.count(f"doc-{w}") == 50 for w in range(4))
    finally:
        s.close()


def test_build_vector_store_picks_adapter_by_setting(tmp_path: Path) -> None:
    edge = build_vector_store(Settings(data_dir=tmp_path, vector_store="qdrant_edge", collection=COLLECTION))
    memory = build_vector_store(Settings(data_dir=tmp_path, vector_store="qdrant", qdrant_url=":memory:"))
    try:
        assert isinstance(edge, QdrantEdgeStore)
        assert edge.shard_dir == tmp_path / "qdrant-edge" / COLLECTION
        assert isinstance(memory, QdrantServerStore)
    finally:
        edge.close()
        memory.close()


def test_unknown_vector_store_name_lists_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="qdrant, qdrant_edge"):
        vector_stores.create("pinecone")
