"""How far can fusing the two retrievers we have go? Every common fusion family on the repository's eval set.

Issue 5 asks hybrid nDCG@10 to beat dense by 10% (relative). This bench measures how much any way of combining
the dense (MiniLM) and sparse (BM25) rankings can give on `tests/data/eval`, so the figure is a property of the
two signals and not of one tuning:

- the shipped hybrid: one Qdrant query, RRF inside the engine (plan.RRF_K, plan.RRF_WEIGHTS);
- client-side re-fusions of the same two candidate lists: RRF over a k x weight grid, score fusion (convex
  combination after min-max, max and distribution-based normalisation, over an alpha grid), RRF over
  documents instead of chunks;
- the oracle: per question, the best of dense, sparse and hybrid, a ceiling no query-level switch can beat.

Each family's best grid point is chosen on the very questions it is scored on, so those figures flatter it;
even so none reaches +10%. Documents are ranked as `steward eval` ranks them (30 chunks, each document once,
the first 10 scored, binary relevance). Follow-ups are searched with the `concat` rewrite, as the server does
when no model is running. The corpus is ingested (or reused) exactly as `steward eval` does it.

    python bench/fusion.py [--dataset tests/data/eval/questions.jsonl] [--depth 150]

Prints one `name=value` per line; `*_vs_dense` are relative nDCG@10 gains over dense measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from services.core.llm.prompt import Turn
from services.core.retrieval.rewrite import concat_rewrite
from services.core.runtime import Runtime
from services.core.vectorstore.plan import RRF_K, RRF_WEIGHTS
from services.core.vectorstore.port import SearchFilters, SearchMode, SearchQuery
from services.eval import metrics
from services.eval.corpus import corpus_files, ingest_corpus
from services.eval.dataset import Question, load_questions
from services.eval.runner import RANK_DEPTH, SEARCH_TOP_K
from services.eval.target import inprocess_target

ALPHAS = tuple(round(a, 2) for a in np.arange(0.3, 0.86, 0.05))
RRF_KS = (1, 2, 5, 10, 60)
DENSE_WEIGHTS = (1.0, 1.25, 1.5, 2.0)


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document: str  # the corpus path the eval's relevance labels use
    score: float


@dataclass(frozen=True)
class Case:
    """One answerable question and what each branch found for it."""

    question: Question
    dense: list[Hit]
    sparse: list[Hit]
    hybrid: list[Hit]  # the shipped fusion, computed by the engine


Ranking = list[Hit]
Fusion = Callable[[Case], Ranking]


def ndcg(case: Case, ranking: Sequence[Hit]) -> float:
    documents = metrics.distinct_documents(h.document for h in ranking[:SEARCH_TOP_K])
    return metrics.ndcg_at_k(documents, case.question.relevant, RANK_DEPTH)


def mean_ndcg(cases: Sequence[Case], fusion: Fusion) -> float:
    return float(np.mean([ndcg(c, fusion(c)) for c in cases]))


def rrf(lists: Sequence[Ranking], k: float, weights: Sequence[float]) -> Ranking:
    """Weighted RRF as Qdrant computes it (see plan.py): 1 / (k - 1 + (rank + 1) / weight), rank from 0."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in zip(lists, weights, strict=True):
        for rank, hit in enumerate(hits):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (k - 1 + (rank + 1) / weight)
            first.setdefault(hit.chunk_id, hit)
    return sorted(first.values(), key=lambda h: -scores[h.chunk_id])


def _normalised(hits: Ranking, how: str) -> dict[str, float]:
    s = np.asarray([h.score for h in hits], dtype=float)
    if not len(s):
        return {}
    if how == "minmax":
        low, span = s.min(), s.max() - s.min()
    elif how == "max":
        low, span = 0.0, s.max()
    else:  # dbsf: Qdrant's distribution-based score fusion range, mean +- 3 standard deviations
        low, span = s.mean() - 3 * s.std(), 6 * s.std()
    values = (s - low) / span if span > 0 else np.ones_like(s)
    return {h.chunk_id: float(v) for h, v in zip(hits, values, strict=True)}


def convex(case: Case, alpha: float, how: str) -> Ranking:
    """alpha * dense + (1 - alpha) * sparse on normalised scores; a chunk one branch missed gets its minimum."""
    dense, sparse = _normalised(case.dense, how), _normalised(case.sparse, how)
    floor_d, floor_s = min(dense.values(), default=0.0), min(sparse.values(), default=0.0)
    hits = {h.chunk_id: h for h in [*case.dense, *case.sparse]}
    score = {c: alpha * dense.get(c, floor_d) + (1 - alpha) * sparse.get(c, floor_s) for c in hits}
    return sorted(hits.values(), key=lambda h: -score[h.chunk_id])


def document_rrf(case: Case, k: float, dense_weight: float) -> Ranking:
    """RRF over each branch's distinct documents: a document found by both branches through different chunks
    gets both contributions (chunk-level RRF credits them to two different chunks)."""
    return rrf([_documents(case.dense), _documents(case.sparse)], k, (dense_weight, 1.0))


def _documents(hits: Ranking) -> Ranking:
    """Each document once, at its best chunk's place, standing in for that chunk."""
    best: dict[str, Hit] = {}
    for h in hits:
        best.setdefault(h.document, Hit(h.document, h.document, h.score))
    return list(best.values())


def best_of(cases: Sequence[Case], grid: dict[str, Fusion]) -> tuple[str, float]:
    scored = {name: mean_ndcg(cases, fusion) for name, fusion in grid.items()}
    name = max(scored, key=lambda n: scored[n])
    return name, scored[name]


def collect(runtime: Runtime, questions: Sequence[Question], depth: int, sources: dict[str, str]) -> list[Case]:
    """Each answerable question's dense and sparse candidates (`depth` each) and the shipped hybrid ranking."""
    cases = []
    for q in questions:
        if not q.answerable:
            continue
        history = [Turn(t.role, t.content) for t in q.history]
        query = concat_rewrite(q.question, history).query if history else q.question
        dense = runtime.embedder.embed_query(query)
        sparse = runtime.sparse_encoder.encode_query(query)

        def branch(mode: SearchMode, limit: int) -> list[Hit]:
            request = SearchQuery(
                limit=limit,
                allowed_groups=None,
                allowed_classifications=None,
                dense=dense,  # noqa: B023 (called before the loop moves on)
                sparse=None if mode == "dense" else sparse,  # noqa: B023
                mode=mode,
                filters=SearchFilters(),
            )
            return [
                Hit(h.id, sources.get(h.document_id, h.document_id), h.score)
                for h in runtime.vector_store.search(request)
            ]

        cases.append(Case(q, branch("dense", depth), branch("sparse", depth), branch("hybrid", SEARCH_TOP_K)))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("tests/data/eval/questions.jsonl"))
    parser.add_argument("--depth", type=int, default=150, help="candidates per branch for the re-fusions")
    args = parser.parse_args()
    questions = load_questions(args.dataset)
    files = corpus_files(args.dataset.parent / "corpus")
    with inprocess_target(files, generate=False) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        assert api.runtime is not None
        sources = {d["id"]: d["source"] for d in api.client.documents()}
        cases = collect(api.runtime, questions, args.depth, sources)

    figures: dict[str, float] = {}
    dense = figures["dense_ndcg_at_10"] = mean_ndcg(cases, lambda c: c.dense)
    figures["sparse_ndcg_at_10"] = mean_ndcg(cases, lambda c: c.sparse)
    figures["hybrid_shipped_ndcg_at_10"] = mean_ndcg(cases, lambda c: c.hybrid)
    figures["hybrid_client_side_ndcg_at_10"] = mean_ndcg(cases, lambda c: rrf([c.dense, c.sparse], RRF_K, RRF_WEIGHTS))
    families: dict[str, dict[str, Fusion]] = {
        "rrf": {
            f"k{k}_w{w}": (lambda c, k=k, w=w: rrf([c.dense, c.sparse], k, (w, 1.0)))
            for k in RRF_KS
            for w in DENSE_WEIGHTS
        },
        "document_rrf": {
            f"k{k}_w{w}": (lambda c, k=k, w=w: document_rrf(c, k, w)) for k in RRF_KS for w in DENSE_WEIGHTS
        },
    }
    for how in ("minmax", "max", "dbsf"):
        families[f"convex_{how}"] = {f"a{a}": (lambda c, a=a, how=how: convex(c, a, how)) for a in ALPHAS}
    for family, grid in families.items():
        name, value = best_of(cases, grid)
        figures[f"{family}_best_ndcg_at_10"] = value
        print(f"{family}_best_setting={name}")
    figures["oracle_best_of_three_ndcg_at_10"] = float(
        np.mean([max(ndcg(c, c.dense), ndcg(c, c.sparse), ndcg(c, c.hybrid)) for c in cases])
    )
    print(f"questions={len(cases)}")
    for name, value in figures.items():
        print(f"{name}={value:.3f}")
        if name != "dense_ndcg_at_10":
            print(f"{name.removesuffix('_ndcg_at_10')}_vs_dense={value / dense - 1:+.3f}")


if __name__ == "__main__":
    main()
