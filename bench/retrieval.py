"""Search latency at 10k and 100k chunks in the embedded profile, dense and hybrid, measured in one run.

Each search is the real request path below HTTP: `Retriever.retrieve` (services/core/retrieval/search.py) —
embed the query (MiniLM on the CPU; plus BM25 for hybrid), one Qdrant Edge query with the ACL filter inside
it, cosine similarity of the hits, near-duplicate drop. The 10k figure is the baseline the 100k figure is compared to,
measured in the same run so the ratio survives a noisy, shared machine. Prints one `name=value` per line.

Embedding 100k real chunks would take an hour here (~27 passages/s), so the corpus is built the way a
vector index sees a real one: 512 real passages are embedded, and every chunk's vector is a blend of two
of them plus noise (a cloud of clusters, not uniform noise, which an index would find unrealistically easy
or hard); each chunk's text (for BM25) is its passages' text plus codes and names drawn from a vocabulary.

    python bench/retrieval.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from services.core.runtime import Runtime
from services.core.settings import Settings
from services.core.vectorstore import ChunkPoint

TOPICS = [
    "parking permits",
    "travel expenses",
    "holiday allowance",
    "laptop replacement",
    "badge access",
    "VPN setup",
    "on-call pay",
    "purchase orders",
    "fire drills",
    "password resets",
    "parental leave",
    "data retention",
    "meeting rooms",
    "visitor registration",
    "invoice approval",
    "software licences",
]
SITES = ["Hamburg", "Lisbon", "Toronto", "Austin", "Kraków", "Dublin", "Osaka", "Nairobi"]
ACTIONS = [
    "must be approved by a line manager",
    "is requested through the service desk",
    "is limited to two per year",
    "requires form {form}",
    "is handled by the facilities team",
    "expires after ninety days",
    "is reimbursed within thirty days",
    "needs a ticket with error code {code}",
]
GROUPS = ["everyone", "hr", "finance", "it"]
BATCH = 1000
BASE_PASSAGES = 512
WARMUP = 20


def passage(rng: random.Random) -> str:
    topic, site = rng.choice(TOPICS), rng.choice(SITES)
    action = rng.choice(ACTIONS).format(form=f"HR-{rng.randint(10, 99)}b", code=f"ERR-{rng.randint(1000, 9999)}")
    other = rng.choice(ACTIONS).format(form="FIN-7", code="NET-42")
    return f"{topic.capitalize()} at the {site} office {action}. {rng.choice(TOPICS).capitalize()} also {other}."


def questions(rng: random.Random, count: int) -> list[str]:
    asked = []
    for _ in range(count):
        topic, site = rng.choice(TOPICS), rng.choice(SITES)
        asked.append(
            rng.choice(
                [
                    f"How do {topic} work at the {site} office?",
                    f"Who approves {topic} in {site}?",
                    f"What does error ERR-{rng.randint(1000, 9999)} mean?",
                    f"Where do I find form HR-{rng.randint(10, 99)}b?",
                    f"{topic} rules",
                ]
            )
        )
    return asked


def corpus(
    runtime: Runtime, base_texts: list[str], base: np.ndarray, size: int, seed: int
) -> Iterator[list[ChunkPoint]]:
    """`size` chunks in batches: vectors blended from two real passages plus noise, texts to match."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    for start in range(0, size, BATCH):
        count = min(BATCH, size - start)
        first = np_rng.integers(0, len(base), count)
        second = np_rng.integers(0, len(base), count)
        vectors = base[first] + 0.35 * base[second] + np_rng.normal(0, 0.04, (count, base.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = []
        for k in range(count):
            n = start + k
            text = f"{base_texts[first[k]]} {base_texts[second[k]]} Reference {rng.choice(SITES)}-{n}."
            document_id = f"doc-{n // 20}"
            batch.append(
                ChunkPoint(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench#{n}")),
                    vector=vectors[k].tolist(),
                    document_id=document_id,
                    chunk_index=n % 20,
                    groups=[rng.choice(GROUPS)],
                    title=f"Handbook {n // 20}",
                    heading=rng.choice(TOPICS),
                    text=text,
                    text_hash=f"{n:032x}",
                    sparse=runtime.sparse_encoder.encode_document(text),
                    source_type=rng.choice(["md", "pdf", "docx", "html"]),
                    created_at=1.7e9 + n,
                )
            )
        yield batch


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(runtime: Runtime, asked: list[str], mode: str) -> list[float]:
    groups = ["everyone", "hr"]  # a typical employee: the ACL filter is part of every query
    for q in asked[:WARMUP]:
        runtime.retriever.retrieve(q, groups, 5, mode)  # type: ignore[arg-type]
    timings = []
    for q in asked:
        started = time.perf_counter()
        runtime.retriever.retrieve(q, groups, 5, mode)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(11)
    base_texts = [passage(rng) for _ in range(BASE_PASSAGES)]
    asked = questions(rng, args.queries)
    results: dict[tuple[str, int], tuple[float, float]] = {}
    base: np.ndarray | None = None
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="steward-bench-retrieval-") as data_dir:
            runtime = Runtime.build(Settings(data_dir=Path(data_dir), worker_mode="external", llm_manage_server=False))
            try:
                if base is None:
                    base = np.asarray(runtime.embedder.embed(base_texts), dtype=np.float32)
                started = time.perf_counter()
                for batch in corpus(runtime, base_texts, base, size, seed=size):
                    runtime.vector_store.upsert(batch)
                runtime.vector_store.optimize()
                print(f"index_{label(size)}_build_s={time.perf_counter() - started:.1f}")
                print(f"indexed_{label(size)}_chunks={runtime.vector_store.count()}")
                for mode in ("dense", "hybrid"):
                    timings = measure(runtime, asked, mode)
                    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
                    results[(mode, size)] = (p50, p95)
                    prefix = "" if mode == "dense" else "hybrid_"
                    print(f"{prefix}search_p50_ms_{label(size)}={p50:.1f}")
                    print(f"{prefix}search_p95_ms_{label(size)}={p95:.1f}")
                    sys.stdout.flush()
                embed_only = []
                for q in asked:
                    started = time.perf_counter()
                    runtime.embedder.embed_query(q)
                    embed_only.append((time.perf_counter() - started) * 1000)
                print(f"query_embedding_p50_ms_{label(size)}={statistics.median(embed_only):.1f}")
            finally:
                runtime.close()
    if len(args.sizes) >= 2:
        small, large = min(args.sizes), max(args.sizes)
        for mode in ("dense", "hybrid"):
            prefix = "" if mode == "dense" else "hybrid_"
            ratio = results[(mode, large)][0] / results[(mode, small)][0]
            print(f"{prefix}search_p50_{label(large)}_vs_{label(small)}_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
