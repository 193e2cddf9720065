"""Hybrid retrieval with the real embedder (all-MiniLM-L6-v2) and the real BM25 encoder, on both adapters.

The fixture is built so keywords matter: error codes, SKUs and people's names that differ by a character or
two, inside prose that is otherwise nearly the same, which an embedding cannot tell apart. Hybrid search must
find them better than dense search, and must not lose the plain paraphrase questions dense search is good at.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.core.embedding.context import embedding_prefix
from services.core.embedding.dense import Embedder
from services.core.embedding.sparse import SparseEncoder
from services.core.settings import Settings
from services.core.vectorstore import ChunkPoint, SearchMode, SearchQuery, VectorStore
from services.core.vectorstore.edge import QdrantEdgeStore
from services.core.vectorstore.qdrant import QdrantServerStore

# (key, title, text): the key names the chunk in the questions below.
CHUNKS = [
    (
        "err-4012",
        "VPN client errors",
        "Error ERR-4012: the gateway rejected your device certificate. "
        "Re-enrol the laptop in the device portal, then reconnect.",
    ),
    (
        "err-4021",
        "VPN client errors",
        "Error ERR-4021: the gateway rejected your sign-in token. "
        "Sign out of the client, sign in again, then reconnect.",
    ),
    (
        "err-4102",
        "VPN client errors",
        "Error ERR-4102: the gateway could not be reached. Check your home network connection, then reconnect.",
    ),
    (
        "err-4201",
        "VPN client errors",
        "Error ERR-4201: the gateway closed your expired session. Quit the client, open it again, then reconnect.",
    ),
    (
        "err-4120",
        "VPN client errors",
        "Error ERR-4120: the gateway rejected your client version. Install the latest client, then reconnect.",
    ),
    (
        "err-4210",
        "VPN client errors",
        "Error ERR-4210: the gateway has too many sessions for your account. Close other devices, then reconnect.",
    ),
    (
        "net-4012",
        "Office Wi-Fi errors",
        "Error NET-4012: the access point refused your device. "
        "Forget the office network, join it again, then reconnect.",
    ),
    (
        "sku-77a",
        "Hardware catalogue",
        "Docking station SKU 77-A: USB-C dock with two monitor outputs, issued with every standard laptop.",
    ),
    (
        "sku-77b",
        "Hardware catalogue",
        "Docking station SKU 77-B: USB-C dock with one monitor output, installed at hot desks.",
    ),
    (
        "sku-78a",
        "Hardware catalogue",
        "Docking station SKU 78-A: Thunderbolt dock with two monitor outputs, for engineering workstations.",
    ),
    ("hs-310", "Hardware catalogue", "Headset HS-310: wired headset with a boom microphone for open-plan desks."),
    ("hs-301", "Hardware catalogue", "Headset HS-301: wireless headset with a boom microphone for frequent callers."),
    ("albrecht", "HR contacts", "Payroll questions go to Maren Albrecht in the HR service team, room 2.14."),
    ("albers", "HR contacts", "Benefits questions go to Marek Albers in the HR service team, room 2.15."),
    ("albright", "HR contacts", "Pension questions go to Karen Albright in the HR service team, room 2.16."),
    ("alvarez", "HR contacts", "Relocation questions go to Mara Alvarez in the HR service team, room 2.17."),
    (
        "leave",
        "Employee handbook",
        "Annual leave: full-time employees get 30 days of paid holiday per calendar "
        "year; unused days expire on 31 March of the following year.",
    ),
    (
        "expenses",
        "Employee handbook",
        "Travel expenses: submit your receipts through the expense tool within "
        "30 days of the trip; meals are reimbursed up to 40 euros a day.",
    ),
    (
        "remote",
        "Employee handbook",
        "Working from home is allowed on up to three days a week when your manager agrees; core hours still apply.",
    ),
    (
        "stolen",
        "Security basics",
        "Report a lost or stolen laptop to the service desk within one hour, so the "
        "device can be locked and wiped remotely.",
    ),
    (
        "parking",
        "Facilities",
        "Parking permits for the Hamburg garage cost 60 euros a month and are handed out through a waiting list.",
    ),
    ("printing", "Facilities", "Printers on every floor release your job when you tap your badge on the reader."),
]

# Codes as people type them: inside a sentence, bare, or spelt without the hyphen.
KEYWORD_QUESTIONS = [
    ("What does ERR-4012 mean?", "err-4012"),
    ("how do I fix ERR-4120", "err-4120"),
    ("ERR-4201", "err-4201"),
    ("err4012 on vpn", "err-4012"),
    ("How many monitors work with SKU 77-B?", "sku-77b"),
    ("Is the HS-301 wireless?", "hs-301"),
    ("Who sits in room 2.16?", "albright"),
    ("What does Marek Albers handle?", "albers"),
]
PARAPHRASE_QUESTIONS = [
    ("How many vacation days do I have per year?", "leave"),
    ("By when must I hand in receipts from a business trip?", "expenses"),
    ("Can I do my job from my apartment some days?", "remote"),
    ("Somebody took my notebook computer, what should I do?", "stolen"),
]
DEPTH = 10  # hits looked at per question


def key_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(Settings().embedding_model, replicas=1)


@pytest.fixture(scope="module")
def encoder() -> SparseEncoder:
    return SparseEncoder()


@pytest.fixture(params=["qdrant_edge", "qdrant_memory"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: Embedder, encoder: SparseEncoder
) -> Iterator[VectorStore]:
    made: VectorStore = (
        QdrantEdgeStore(tmp_path, "hybrid") if request.param == "qdrant_edge" else QdrantServerStore(":memory:", "x")
    )
    made.ensure_collection(embedder.dimension)
    # What ingestion embeds and indexes: the title as context, then the text (ingestion/pipeline.py).
    texts = [f"{embedding_prefix(title, '')}\n{text}" for _, title, text in CHUNKS]
    made.upsert(
        [
            ChunkPoint(
                id=key_id(key),
                vector=vector,
                document_id=title,
                chunk_index=index,
                groups=["everyone"],
                title=title,
                heading="",
                text=text,
                text_hash=key,
                sparse=encoder.encode_document(embedded),
                sparse_model=encoder.version,
            )
            for index, ((key, title, text), embedded, vector) in enumerate(
                zip(CHUNKS, texts, embedder.embed(texts), strict=True)
            )
        ]
    )
    yield made
    made.close()


Ranker = Callable[[str, SearchMode], list[str]]


@pytest.fixture
def ranked(store: VectorStore, embedder: Embedder, encoder: SparseEncoder) -> Ranker:
    def rank(question: str, mode: SearchMode) -> list[str]:
        query = SearchQuery(
            limit=DEPTH,
            allowed_groups=["everyone"],
            dense=embedder.embed_query(question),
            sparse=encoder.encode_query(question),
            mode=mode,
        )
        return [hit.id for hit in store.search(query)]

    return rank


def reciprocal_rank(ranking: list[str], target: str) -> float:
    return 1.0 / (ranking.index(key_id(target)) + 1) if key_id(target) in ranking else 0.0


def scores(ranked: Ranker, questions: list[tuple[str, str]], mode: SearchMode) -> tuple[float, int]:
    """Mean reciprocal rank and the number of questions whose target is in the top 3."""
    rankings = [(ranked(question, mode), target) for question, target in questions]
    mrr = statistics.mean(reciprocal_rank(ranking, target) for ranking, target in rankings)
    return mrr, sum(key_id(target) in ranking[:3] for ranking, target in rankings)


def test_hybrid_beats_dense_on_keyword_questions(ranked: Ranker) -> None:
    measured = {mode: scores(ranked, KEYWORD_QUESTIONS, mode) for mode in ("dense", "sparse", "hybrid")}
    print(f"keyword questions, (MRR, top-3 hits of {len(KEYWORD_QUESTIONS)}): {measured}")
    dense_mrr, dense_top3 = measured["dense"]
    hybrid_mrr, hybrid_top3 = measured["hybrid"]
    assert hybrid_mrr > dense_mrr, measured
    assert hybrid_top3 > dense_top3, measured


def test_hybrid_keeps_paraphrase_questions(ranked: Ranker) -> None:
    for question, target in PARAPHRASE_QUESTIONS:
        assert key_id(target) in ranked(question, "dense")[:3], f"fixture: dense should find {target}"
        assert key_id(target) in ranked(question, "hybrid")[:3], (question, target)


def test_code_parts_alone_do_not_match_the_whole_code(ranked: Ranker) -> None:
    # "4012" is in two codes; the glued token decides which one a query for the whole code means.
    assert ranked("ERR-4012", "sparse")[0] == key_id("err-4012")
    assert ranked("NET-4012", "sparse")[0] == key_id("net-4012")
    assert ranked("sku 77-a", "sparse")[0] == key_id("sku-77a")
