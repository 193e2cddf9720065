"""One contract for every vector-store adapter that runs here: Qdrant Edge and in-memory qdrant-client."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.core.embedding.sparse import SparseEncoder
from services.core.errors import ConfigurationError
from services.core.settings import Settings
from services.core.vectorstore import (
    SEARCH_MODES,
    ChunkPoint,
    ScoredChunk,
    SearchFilters,
    SearchMode,
    SearchQuery,
    VectorStore,
    build_vector_store,
    vector_stores,
)
from services.core.vectorstore.edge import QdrantEdgeStore
from services.core.vectorstore.plan import RRF_K, RRF_WEIGHTS
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


def dense_search(
    store: VectorStore, vector: list[float], limit: int, allowed_groups: Sequence[str] | None
) -> list[ScoredChunk]:
    return store.search(SearchQuery(limit=limit, allowed_groups=allowed_groups, dense=vector))


def test_upsert_then_count_counts_every_point(store: VectorStore) -> None:
    assert store.count() == len(CORPUS)


def test_reupserting_same_ids_overwrites_instead_of_duplicating(store: VectorStore) -> None:
    edited = chunk("hr-handbook", 0, ["hr"], axis(0), text="revised policy")
    store.upsert([*CORPUS, edited])
    assert store.count() == len(CORPUS)
    best = dense_search(store, axis(0), limit=1, allowed_groups=None)[0]
    assert (best.id, best.text) == (edited.id, "revised policy")


def test_search_returns_best_first_with_full_payload(store: VectorStore) -> None:
    hits = dense_search(store, axis(3, 0.1), limit=3, allowed_groups=None)
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
    assert len(dense_search(store, axis(0), limit=2, allowed_groups=None)) == 2


def test_filtered_search_returns_only_chunks_sharing_a_group(store: VectorStore) -> None:
    hits = dense_search(store, axis(0), limit=10, allowed_groups=["eng"])
    assert hits
    assert all("eng" in h.groups for h in hits)
    assert {h.document_id for h in hits} == {"eng-wiki", "all-hands"}


def test_principal_without_group_never_sees_chunk(store: VectorStore) -> None:
    # The query is an hr chunk's own vector; an eng-only principal must still not get it, even at rank 1.
    hits = dense_search(store, axis(0), limit=len(CORPUS), allowed_groups=["eng"])
    assert not any(h.document_id == "hr-handbook" for h in hits)
    assert dense_search(store, axis(0), limit=len(CORPUS), allowed_groups=["finance"]) == []


def test_principal_with_several_groups_sees_any_match(store: VectorStore) -> None:
    hits = dense_search(store, axis(0), limit=len(CORPUS), allowed_groups=["finance", "hr"])
    assert {h.document_id for h in hits} == {"hr-handbook", "all-hands"}


def test_empty_group_list_sees_nothing(store: VectorStore) -> None:
    assert dense_search(store, axis(0), limit=10, allowed_groups=[]) == []


def test_unrestricted_search_sees_every_group(store: VectorStore) -> None:
    hits = dense_search(store, axis(0), limit=len(CORPUS), allowed_groups=None)
    assert {h.document_id for h in hits} == {"hr-handbook", "eng-wiki", "all-hands"}


def test_delete_document_removes_exactly_that_documents_points(store: VectorStore) -> None:
    store.delete_document("eng-wiki")
    assert store.count("eng-wiki") == 0
    assert store.count() == len(CORPUS) - 3
    assert store.count("hr-handbook") == 3
    assert "eng-wiki" not in {h.document_id for h in dense_search(store, axis(3), limit=10, allowed_groups=None)}


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
    assert dense_search(store, axis(0), 8, ["hr"])[0].id != target  # hr lost access inside the query
    top = dense_search(store, axis(0), 1, ["finance"])[0]
    assert (top.id, top.chunk_index, top.text, dict(top.location)) == (target, 7, "hr-handbook chunk 0", {"page": 3})
    assert top.score == pytest.approx(1.0, abs=1e-5)  # same vector as before


def test_delete_points_removes_only_those_ids(store: VectorStore) -> None:
    store.upsert(CORPUS)
    store.delete_points([point_id("eng-wiki", 0), point_id("eng-wiki", 2), "00000000-0000-0000-0000-000000000000"])
    assert set(store.document_points("eng-wiki")) == {point_id("eng-wiki", 1)}
    assert store.count() == len(CORPUS) - 2
    store.delete_points([])


def test_points_reads_exactly_the_ids_asked_with_vectors_and_payload(store: VectorStore) -> None:
    wanted = [point_id("eng-wiki", 1), point_id("hr-handbook", 2)]
    read = {p.id: p for p in store.points([*wanted, "00000000-0000-0000-0000-000000000000"])}
    exported = {p.id: p for p in store.export_points()}
    assert set(read) == set(wanted)  # the unknown id is left out, not an error
    for pid_ in wanted:
        assert read[pid_].payload == exported[pid_].payload
        assert read[pid_].payload["text"] == exported[pid_].payload["text"] != ""
        assert read[pid_].dense == pytest.approx(exported[pid_].dense)
    assert store.points([]) == []


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
    assert dense_search(fresh, axis(0), limit=5, allowed_groups=None) == []
    fresh.delete_document("hr-handbook")
    assert fresh.points([point_id("hr-handbook", 0)]) == []


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
                edge, memory = (dense_search(s, query, limit=5, allowed_groups=groups) for s in stores)
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
        assert dense_search(reopened, axis(0), limit=1, allowed_groups=["hr"])[0].id == point_id("hr-handbook", 0)
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
                for hit in dense_search(s, axis(worker), limit=5, allowed_groups=[f"g{worker}"]):
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


# --- Hybrid retrieval: dense, sparse (BM25) and both fused by RRF, with the ACL and filters in every branch ---

ENCODER = SparseEncoder()
MODES: tuple[SearchMode, ...] = SEARCH_MODES


def toward(k: int, closeness: float) -> list[float]:
    """A unit vector between axis 1 (where the dense test query points) and axis k: closer means more similar."""
    v = [0.0] * DIM
    v[1], v[k] = closeness, 1.0 - closeness
    return v


def moment(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def passage(
    document_id: str,
    index: int,
    groups: list[str],
    closeness: float,
    text: str,
    tags: tuple[str, ...],
    source_type: str,
    created: datetime,
) -> ChunkPoint:
    return ChunkPoint(
        id=point_id(document_id, index),
        vector=toward(2 + index % 5, closeness),
        document_id=document_id,
        chunk_index=index,
        groups=groups,
        title=document_id,
        heading="",
        text=text,
        text_hash=f"hash-{document_id}-{index}",
        sparse=ENCODER.encode_document(text),
        sparse_model=ENCODER.version,
        tags=tags,
        source_type=source_type,
        created_at=created.timestamp(),
    )


SECRET_TEXT = "Error ERR-4012 on the payroll VPN gateway: the client certificate was rejected."
# Every passage mentions the VPN, so a sparse query for "VPN" reaches all of them (the filter tests need that).
# No two have the same number of terms: equal BM25 scores would leave their order to each engine.
# Dense order for the query axis(1): guide-0 0.9, guide-1 0.7, errors-0 0.6, faq 0.5, errors-1 0.3 (secret 1.0).
# Sparse order for "ERR-4012": errors-0 (every term), then the two that share only "err".
PASSAGES = [
    passage(
        "vpn-errors",
        0,
        ["eng"],
        0.6,
        "Error ERR-4012: the VPN gateway rejected the client certificate.",
        ("it", "vpn"),
        "md",
        moment(2023, 3),
    ),
    passage(
        "vpn-errors", 1, ["eng"], 0.3, "Error ERR-4013: the VPN gateway timed out.", ("it",), "md", moment(2023, 3)
    ),
    passage(
        "vpn-guide", 0, ["eng"], 0.9, "Connect to the VPN from home with the client.", ("it",), "html", moment(2024, 6)
    ),
    passage(
        "vpn-guide",
        1,
        ["eng"],
        0.7,
        "If the VPN connection drops, restart the client and try again.",
        ("it",),
        "html",
        moment(2024, 6),
    ),
    passage(
        "faq",
        0,
        ["eng", "hr"],
        0.5,
        "Codes like ERR-4013 are listed in the VPN handbook for staff.",
        ("faq",),
        "pdf",
        moment(2022),
    ),
    # Readable by hr only; the best match of every branch for the queries below (nearest vector, every term).
    passage("hr-secret", 0, ["hr"], 1.0, SECRET_TEXT, ("it", "vpn"), "eml", moment(2024, 2)),
]
ENG_READABLE = {p.id for p in PASSAGES if "eng" in p.groups}


def pid(document_id: str, index: int = 0) -> str:
    return point_id(document_id, index)


@pytest.fixture
def kw_store(make_store: Factory) -> VectorStore:
    s = make_store()
    s.ensure_collection(DIM)
    s.upsert(PASSAGES)
    return s


def search(
    store: VectorStore,
    mode: SearchMode,
    text: str = "ERR-4012",
    groups: Sequence[str] | None = ("eng",),
    limit: int = 10,
    filters: SearchFilters | None = None,
) -> list[ScoredChunk]:
    query = SearchQuery(
        limit=limit,
        allowed_groups=groups,
        dense=axis(1),
        sparse=ENCODER.encode_query(text),
        mode=mode,
        filters=filters or SearchFilters(),
    )
    return store.search(query)


def test_dense_mode_ranks_by_embedding_similarity(kw_store: VectorStore) -> None:
    hits = search(kw_store, "dense")
    assert ids(hits) == [
        pid("vpn-guide", 0),
        pid("vpn-guide", 1),
        pid("vpn-errors", 0),
        pid("faq"),
        pid("vpn-errors", 1),
    ]
    assert hits[0].score == pytest.approx(0.9 / (0.9**2 + 0.1**2) ** 0.5, abs=1e-5)


def test_sparse_mode_ranks_by_keywords_and_matches_a_code_as_a_whole(kw_store: VectorStore) -> None:
    hits = search(kw_store, "sparse")
    # Only passages sharing a term; the one with the whole code first, far ahead of those sharing only "err".
    assert ids(hits)[0] == pid("vpn-errors", 0)
    assert set(ids(hits)) == {pid("vpn-errors", 0), pid("vpn-errors", 1), pid("faq")}
    assert hits[0].score > 2 * hits[1].score
    # The glued token works both ways round: "ERR 4012" and "err4012" find the same passage first.
    for spelling in ("ERR 4012", "err4012"):
        assert ids(search(kw_store, "sparse", spelling))[0] == pid("vpn-errors", 0)


def test_hybrid_mode_lifts_the_keyword_match_the_embedding_ranks_low(kw_store: VectorStore) -> None:
    hits = search(kw_store, "hybrid")
    # Dense alone puts the passage with the exact code third; fused with BM25's first place it comes first,
    # and the embedding's favourite stays right behind it.
    assert ids(hits)[:2] == [pid("vpn-errors", 0), pid("vpn-guide", 0)]
    assert set(ids(hits)) == ENG_READABLE


@pytest.mark.parametrize("groups", [None, ("eng",), ("hr",)], ids=["admin", "eng", "hr"])
def test_hybrid_score_is_rrf_of_the_dense_and_sparse_rankings(kw_store: VectorStore, groups: tuple[str, ...]) -> None:
    dense, sparse = (ids(search(kw_store, mode, groups=groups, limit=50)) for mode in ("dense", "sparse"))
    expected: dict[str, float] = {}
    for weight, ranking in zip(RRF_WEIGHTS, (dense, sparse), strict=True):
        for rank, hit in enumerate(ranking):
            expected[hit] = expected.get(hit, 0.0) + 1 / (RRF_K - 1 + (rank + 1) / weight)
    hits = search(kw_store, "hybrid", groups=groups, limit=50)
    assert {h.id: h.score for h in hits} == pytest.approx(expected, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("mode", MODES)
def test_acl_holds_in_every_mode_even_for_the_exact_text(kw_store: VectorStore, mode: SearchMode) -> None:
    # The hr-only passage has the query's exact text and the nearest vector: eng must still never get it.
    for text in ("ERR-4012", SECRET_TEXT):
        hits = search(kw_store, mode, text, groups=["eng"])
        assert hits and set(ids(hits)) <= ENG_READABLE
        assert pid("hr-secret") not in ids(search(kw_store, mode, text, groups=["eng", "finance"]))
        assert search(kw_store, mode, text, groups=["finance"]) == []
        # hr reads it, and it comes first in every mode.
        assert ids(search(kw_store, mode, text, groups=["hr"]))[0] == pid("hr-secret")


@pytest.mark.parametrize("mode", MODES)
def test_empty_group_list_sees_nothing_in_any_mode(kw_store: VectorStore, mode: SearchMode) -> None:
    assert search(kw_store, mode, groups=[]) == []


FILTER_CASES = {
    "document_ids": (SearchFilters(document_ids=("vpn-errors", "faq")), {"vpn-errors", "faq"}),
    "tags": (SearchFilters(tags=("vpn", "faq")), {"vpn-errors/0", "faq", "hr-secret"}),
    "source_types": (SearchFilters(source_types=("html",)), {"vpn-guide"}),
    "created_range": (SearchFilters(created_from=moment(2024), created_to=moment(2024, 6)), {"vpn-guide", "hr-secret"}),
    "created_from": (SearchFilters(created_from=datetime(2023, 6, 1)), {"vpn-guide", "hr-secret"}),  # naive = UTC
    "created_to": (SearchFilters(created_to=moment(2023, 3)), {"vpn-errors", "faq"}),  # inclusive
    "combined": (SearchFilters(tags=("it",), source_types=("md", "eml")), {"vpn-errors", "hr-secret"}),
}


def expected_ids(names: set[str], groups: Sequence[str] | None) -> set[str]:
    """Passages named "document" (all its chunks) or "document/index", readable by `groups`."""
    return {
        p.id
        for p in PASSAGES
        if (p.document_id in names or f"{p.document_id}/{p.chunk_index}" in names)
        and (groups is None or set(p.groups) & set(groups))
    }


@pytest.mark.parametrize("case", FILTER_CASES)
@pytest.mark.parametrize("mode", MODES)
def test_each_filter_holds_in_every_mode(kw_store: VectorStore, mode: SearchMode, case: str) -> None:
    filters, names = FILTER_CASES[case]
    for groups in (None, ["eng"]):
        # "VPN" is in every passage, so without the filter every mode would return all readable ones.
        hits = search(kw_store, mode, "VPN", groups=groups, filters=filters)
        assert set(ids(hits)) == expected_ids(names, groups), (groups, ids(hits))


def test_filter_matching_nothing_returns_nothing(kw_store: VectorStore) -> None:
    for mode in MODES:
        assert search(kw_store, mode, "VPN", groups=None, filters=SearchFilters(tags=("no-such-tag",))) == []
        assert search(kw_store, mode, "VPN", filters=SearchFilters(created_from=moment(2030))) == []


def test_query_of_only_stopwords_finds_nothing_sparse_and_falls_back_to_dense(kw_store: VectorStore) -> None:
    assert ENCODER.encode_query("what is the of and").indices == ()
    assert search(kw_store, "sparse", "what is the of and") == []
    hybrid, dense = (search(kw_store, mode, "what is the of and") for mode in ("hybrid", "dense"))
    assert ids(hybrid) == ids(dense) and [h.score for h in hybrid] == [h.score for h in dense]


def test_hybrid_candidates_reach_beyond_the_limit(kw_store: VectorStore) -> None:
    # limit=1: the keyword passage is only third in the dense branch, yet fusion must still see it.
    assert ids(search(kw_store, "hybrid", limit=1)) == [pid("vpn-errors", 0)]


def test_sparse_scores_do_not_reveal_unreadable_documents(make_store: Factory) -> None:
    # BM25's IDF is computed over what the principal may read: adding an unreadable passage with the same
    # rare terms must not change a readable passage's score (it would, with collection-wide statistics).
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert([p for p in PASSAGES if p.document_id != "hr-secret"])
    before = search(store, "sparse")
    admin_before = search(store, "sparse", groups=None)
    store.upsert([p for p in PASSAGES if p.document_id == "hr-secret"])
    after = search(store, "sparse")
    assert [(h.id, h.score) for h in after] == [(h.id, pytest.approx(h.score, abs=1e-6)) for h in before]
    admin_after = {h.id: h.score for h in search(store, "sparse", groups=None)}
    assert admin_after[pid("vpn-errors", 0)] < admin_before[0].score  # an admin's IDF covers everything


def test_document_points_carry_the_filter_fields(kw_store: VectorStore) -> None:
    stored = kw_store.document_points("vpn-guide")[pid("vpn-guide", 1)]
    assert (stored["tags"], stored["source_type"], stored["sparse_model"]) == (["it"], "html", ENCODER.version)
    assert stored["created_at"] == pytest.approx(moment(2024, 6).timestamp())


def test_set_payloads_moves_a_chunk_between_filters_in_every_mode(kw_store: VectorStore) -> None:
    kw_store.set_payloads({pid("vpn-guide", 0): {"tags": ["vpn"], "source_type": "pdf", "groups": ["eng"]}})
    for mode in MODES:
        tagged = search(kw_store, mode, "VPN", filters=SearchFilters(tags=("vpn",), source_types=("pdf",)))
        assert ids(tagged) == [pid("vpn-guide", 0)]


def test_set_sparse_vectors_replaces_keywords_but_keeps_the_dense_vector(kw_store: VectorStore) -> None:
    target = pid("vpn-guide", 1)
    kw_store.set_sparse_vectors({target: ENCODER.encode_document("Invoice INV-2024-0091 is overdue")}, "other-v2")
    assert ids(search(kw_store, "sparse", "INV-2024-0091")) == [target]
    assert target not in ids(search(kw_store, "sparse", "restart"))
    assert ids(search(kw_store, "dense"))[1] == target  # same embedding as before
    assert kw_store.document_points("vpn-guide")[target]["sparse_model"] == "other-v2"
    kw_store.set_sparse_vectors({}, "noop")


@pytest.mark.parametrize("mode", MODES)
def test_both_adapters_agree_in_every_mode(tmp_path: Path, mode: SearchMode) -> None:
    stores = [edge_factory(tmp_path)(), memory_factory(tmp_path)()]
    try:
        for s in stores:
            s.ensure_collection(DIM)
            s.upsert(PASSAGES)
        for text in ("ERR-4012", "VPN gateway", "restart the client", SECRET_TEXT):
            for groups in (None, ["eng"], ["hr"]):
                edge, memory = (search(s, mode, text, groups=groups) for s in stores)
                assert ids(edge) == ids(memory), (text, groups)
                assert [h.score for h in edge] == pytest.approx([h.score for h in memory], abs=1e-5)
    finally:
        for s in stores:
            s.close()


@pytest.mark.parametrize("mode", MODES)
def test_hits_carry_their_dense_vector_only_when_asked(kw_store: VectorStore, mode: SearchMode) -> None:
    assert all(h.vector is None for h in search(kw_store, mode))
    query = SearchQuery(
        limit=10, allowed_groups=["eng"], dense=axis(1), sparse=ENCODER.encode_query("ERR-4012"), mode=mode
    )
    hits = kw_store.search(replace(query, with_vectors=True))
    assert hits and ids(hits) == ids(kw_store.search(query))
    by_id = {p.id: p for p in PASSAGES}
    for hit in hits:
        stored = by_id[hit.id].vector
        norm = sum(x * x for x in stored) ** 0.5  # cosine collections keep vectors normalised
        assert hit.vector == pytest.approx([x / norm for x in stored], abs=1e-6)


def test_search_query_validates_what_each_mode_needs() -> None:
    with pytest.raises(ValueError, match="dense"):
        SearchQuery(limit=5, allowed_groups=None, mode="hybrid", sparse=ENCODER.encode_query("x"))
    with pytest.raises(ValueError, match="sparse"):
        SearchQuery(limit=5, allowed_groups=None, mode="sparse")
    with pytest.raises(ValueError, match="mode"):
        SearchQuery(limit=5, allowed_groups=None, dense=[1.0], mode="fuzzy")  # type: ignore[arg-type]
    assert SearchQuery(limit=5, allowed_groups=None, dense=[1.0]).candidates == 50
    assert SearchQuery(limit=30, allowed_groups=None, dense=[1.0]).candidates == 120


# --- Collections from before hybrid search (dense vector only) ---

LEGACY = chunk("old-doc", 0, ["eng"], toward(3, 0.8), text="Legacy note about ERR-4012")


def test_edge_shard_without_sparse_vector_gets_it_in_place(tmp_path: Path) -> None:
    import qdrant_edge as qe

    from services.core.vectorstore import chunk_payload

    shard_dir = tmp_path / COLLECTION
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine))
    old = qe.EdgeShard.create(str(shard_dir), config)
    payload = {k: v for k, v in chunk_payload(LEGACY).items() if k in ("document_id", "groups", "text", "chunk_index")}
    old.update(qe.UpdateOperation.upsert_points([qe.Point(LEGACY.id, list(LEGACY.vector), payload)]))
    old.flush()
    old.close()
    store = QdrantEdgeStore(tmp_path, COLLECTION)
    try:
        assert_legacy_collection_upgrades(store)
    finally:
        store.close()
    reopened = QdrantEdgeStore(tmp_path, COLLECTION)  # the sparse vector config persisted
    try:
        assert LEGACY.id in ids(search(reopened, "sparse", "ERR-4012"))
    finally:
        reopened.close()


def test_qdrant_collection_without_sparse_vector_gets_it_in_place() -> None:
    from qdrant_client import models

    store = QdrantServerStore(":memory:", COLLECTION)
    try:
        store._client.create_collection(
            COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )
        store._client.upsert(
            COLLECTION,
            [models.PointStruct(id=LEGACY.id, vector=list(LEGACY.vector), payload={"groups": ["eng"], "text": "x"})],
        )
        assert_legacy_collection_upgrades(store)
    finally:
        store.close()


def assert_legacy_collection_upgrades(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    # The old point is still there and found by its embedding, but it has no keywords until re-indexed.
    assert ids(search(store, "dense", groups=None)) == [LEGACY.id]
    assert search(store, "sparse", "ERR-4012") == []
    assert ids(search(store, "hybrid", "ERR-4012")) == [LEGACY.id]
    store.set_sparse_vectors({LEGACY.id: ENCODER.encode_document(LEGACY.text)}, ENCODER.version)
    assert ids(search(store, "sparse", "ERR-4012")) == [LEGACY.id]
    store.upsert(PASSAGES)
    assert ids(search(store, "sparse", "ERR-4012"))[0] in {LEGACY.id, pid("vpn-errors", 0)}
    assert store.document_points("vpn-errors")[pid("vpn-errors", 0)]["sparse_model"] == ENCODER.version


def test_qdrant_server_that_cannot_add_the_sparse_vector_keeps_dense_and_refuses_sparse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qdrant_client import models

    store = QdrantServerStore(":memory:", COLLECTION)
    try:
        store._client.create_collection(
            COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
        )

        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError("404 Not Found")  # what a server without the API answers

        monkeypatch.setattr(store._client, "create_vector_name", refuse)
        store.ensure_collection(DIM)
        store.upsert(PASSAGES)  # stored without their sparse vectors, and recorded as such
        assert ids(search(store, "dense"))[0] == pid("vpn-guide", 0)
        for mode in ("sparse", "hybrid"):
            with pytest.raises(ConfigurationError, match=f"predates hybrid search.*{mode} search is unavailable"):
                search(store, mode)  # type: ignore[arg-type]
        assert search(store, "hybrid", "the of and") != []  # no keywords: hybrid is dense, which works
        assert store.document_points("faq")[pid("faq")]["sparse_model"] == ""
        store.set_sparse_vectors({pid("faq"): ENCODER.encode_document("x")}, ENCODER.version)  # a no-op
        assert store.document_points("faq")[pid("faq")]["sparse_model"] == ""
    finally:
        store.close()


def test_optimize_keeps_every_point_and_answer(store: VectorStore) -> None:
    before = [ids(dense_search(store, axis(k), 4, ["hr"])) for k in range(DIM)]
    store.optimize()
    assert store.count() == len(CORPUS)
    assert [ids(dense_search(store, axis(k), 4, ["hr"])) for k in range(DIM)] == before
    assert store.optimize() is False  # nothing left to do


# Classifications (services/core/access/rules.py): the same PASSAGES, with the secret now readable by eng as a group but
# classified above an internal clearance. The condition must hold in every branch of every mode, and in BM25's IDF.
INTERNAL_LEVELS = ("public", "internal")


def classified(level: str) -> list[ChunkPoint]:
    return [replace(p, groups=["eng"], classification=level) if p.document_id == "hr-secret" else p for p in PASSAGES]


def search_levels(
    store: VectorStore, mode: SearchMode, levels: Sequence[str] | None, text: str = "ERR-4012"
) -> list[ScoredChunk]:
    query = SearchQuery(
        limit=10,
        allowed_groups=["eng"],
        allowed_classifications=levels,
        dense=axis(1),
        sparse=ENCODER.encode_query(text),
        mode=mode,
    )
    return store.search(query)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_classification_above_clearance_is_excluded_in_every_mode(make_store: Factory, mode: SearchMode) -> None:
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert(classified("confidential"))
    for text in ("ERR-4012", "payroll VPN gateway certificate"):
        assert pid("hr-secret") not in ids(search_levels(store, mode, INTERNAL_LEVELS, text))
        assert pid("hr-secret") in ids(search_levels(store, mode, (*INTERNAL_LEVELS, "confidential"), text))
    assert search_levels(store, mode, ()) == []


def test_reclassifying_a_payload_takes_effect_without_new_vectors(make_store: Factory) -> None:
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert(classified("public"))
    assert pid("hr-secret") in ids(search_levels(store, "hybrid", ("public",)))
    store.set_payloads({pid("hr-secret"): {"classification": "restricted"}})
    assert pid("hr-secret") not in ids(search_levels(store, "hybrid", INTERNAL_LEVELS))
    assert store.document_points("hr-secret")[pid("hr-secret")]["classification"] == "restricted"


def test_points_without_a_classification_count_as_internal(make_store: Factory) -> None:
    # Chunks indexed before classifications existed: their documents were migrated to "internal".
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert(classified("confidential"))
    store.set_payloads({pid("vpn-guide", 0): {"classification": None}})
    assert pid("vpn-guide", 0) in ids(search_levels(store, "dense", INTERNAL_LEVELS))
    assert pid("vpn-guide", 0) not in ids(search_levels(store, "dense", ("public",)))


def test_sparse_statistics_exclude_documents_above_clearance(make_store: Factory) -> None:
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert([p for p in classified("confidential") if p.document_id != "hr-secret"])
    before = search_levels(store, "sparse", INTERNAL_LEVELS)
    store.upsert([p for p in classified("confidential") if p.document_id == "hr-secret"])
    after = search_levels(store, "sparse", INTERNAL_LEVELS)
    assert [(h.id, h.score) for h in after] == [(h.id, pytest.approx(h.score, abs=1e-6)) for h in before]


# Staged points and document-wide payload updates: how access changes and new versions reach the index.


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_staged_points_are_found_by_no_one_until_made_live(make_store: Factory, mode: SearchMode) -> None:
    store = make_store()
    store.ensure_collection(DIM)
    staged = [replace(p, state="staged") for p in classified("internal") if p.document_id == "hr-secret"]
    store.upsert(staged)
    for levels in (INTERNAL_LEVELS, None):  # a reader, and an admin (no ACL at all)
        assert pid("hr-secret") not in ids(search_levels(store, mode, levels))
    store.set_document_payload("hr-secret", {"state": "live"})
    assert pid("hr-secret") in ids(search_levels(store, mode, None))


def test_set_document_payload_changes_every_point_of_one_document_only(store: VectorStore) -> None:
    store.set_document_payload("hr-handbook", {"groups": ["finance"], "classification": "confidential"})
    points = store.document_points("hr-handbook")
    assert {tuple(p["groups"]) for p in points.values()} == {("finance",)} and len(points) == 3
    assert {p["classification"] for p in points.values()} == {"confidential"}
    assert not set(ids(dense_search(store, axis(0), 8, ["hr"]))) & set(points)  # hr lost it inside the query
    assert {tuple(p["groups"]) for p in store.document_points("eng-wiki").values()} == {("eng",)}
    store.set_document_payload("no-such-document", {"groups": []})  # a no-op, not an error


def test_scan_lists_every_point_with_its_summary_across_pages(store: VectorStore) -> None:
    scanned = dict(store.scan(batch=3))
    assert set(scanned) == {p.id for p in CORPUS}
    assert all(payload["state"] == "live" and "text" not in payload for payload in scanned.values())
    assert scanned[point_id("all-hands", 1)]["groups"] == ["hr", "eng"]


def test_points_stored_before_staging_existed_are_live(make_store: Factory) -> None:
    store = make_store()
    store.ensure_collection(DIM)
    store.upsert(CORPUS)
    store.set_payloads({point_id("eng-wiki", 0): {"state": None}})
    store.ensure_collection(DIM)  # what every start does: the old point is backfilled as live
    assert store.document_points("eng-wiki")[point_id("eng-wiki", 0)]["state"] == "live"
    assert point_id("eng-wiki", 0) in ids(dense_search(store, axis(3), 8, None))


@pytest.mark.parametrize("direction", ["edge_to_server", "server_to_edge"])
def test_exported_points_carried_to_the_other_adapter_answer_every_mode_the_same(
    tmp_path: Path, direction: str
) -> None:
    # What a backup does: every point leaves with its vectors and whole payload and lands in a fresh store
    # (of either engine) that then answers exactly as the original did, ACL and staging included.
    source, target = edge_factory(tmp_path)(), memory_factory(tmp_path)()
    if direction == "server_to_edge":
        source, target = target, source
    try:
        source.ensure_collection(DIM)
        source.upsert([*PASSAGES, replace(PASSAGES[0], id=pid("staged", 0), document_id="staged", state="staged")])
        exported = list(source.export_points(batch=2))  # several pages
        assert len({p.id for p in exported}) == len(exported) == source.count()
        assert all(p.payload["text"] and len(p.dense) == DIM and p.sparse is not None for p in exported)
        target.ensure_collection(DIM)
        target.import_points(exported)
        target.import_points(exported[:3])  # a retried import duplicates nothing
        assert target.count() == source.count()
        for mode in MODES:
            for text in ("ERR-4012", "VPN gateway", SECRET_TEXT):
                for groups in (None, ["eng"], ["hr"]):
                    before, after = (search(s, mode, text, groups=groups) for s in (source, target))
                    assert ids(after) == ids(before), (mode, text, groups)
                    assert [h.text for h in after] == [h.text for h in before]
        assert target.document_points("staged")[pid("staged", 0)]["state"] == "staged"
        assert sorted(p.id for p in target.export_points()) == sorted(p.id for p in exported)
    finally:
        source.close()
        target.close()


def test_an_empty_store_exports_nothing(make_store: Factory) -> None:
    assert list(make_store().export_points()) == []


def test_drop_deletes_the_edge_shard_and_its_files(tmp_path: Path) -> None:
    store = edge_factory(tmp_path)()
    store.ensure_collection(DIM)
    store.upsert(CORPUS)
    store.drop()
    assert not store.shard_dir.exists()
    with pytest.raises(RuntimeError):
        store.count()
    again = edge_factory(tmp_path)()
    again.ensure_collection(DIM)
    assert again.count() == 0
    again.close()


def test_drop_deletes_the_server_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    store = QdrantServerStore(":memory:", COLLECTION)
    store.ensure_collection(DIM)
    store.upsert(CORPUS)
    client = store._client
    monkeypatch.setattr(client, "close", lambda: None)  # keep the in-memory client readable after drop()
    store.drop()
    assert not client.collection_exists(COLLECTION)
