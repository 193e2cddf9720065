"""What a SearchQuery asks of the engine, worked out once so both adapters translate the same decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.core.access.rules import DEFAULT_CLASSIFICATION
from services.core.vectorstore.payload import SEARCHABLE_STATE
from services.core.vectorstore.port import SearchMode, SearchQuery

# Reciprocal rank fusion, as both engines compute it (checked): a hit scores the sum over the branches b that
# returned it of 1 / (k - 1 + (rank_b + 1) / weight_b), rank_b counted from 0; with weight 1 that is the usual
# 1 / (k + rank_b). A weight divides a branch's ranks: with weight 1.5 its third place counts as a second.
# Chosen on the evaluation set (tests/data/eval: 79 answerable, non-follow-up questions over 985 chunks;
# document-level MRR@10 / recall@5 from 30 chunks):
#   dense alone 0.801 / 0.840, sparse alone 0.747 / 0.823 (keyword questions: MRR 0.875 sparse, 0.789 dense);
#   hybrid, equal weights: k=60 0.833 / 0.863, k=10 0.841 / 0.876, k=2 0.840 / 0.876;
#   hybrid, k=2, weights dense 1.5 : sparse 1: 0.849 / 0.878.
# k hardly matters overall (one question moves MRR by 0.013), but equal weights cost the paraphrase questions
# (recall@5 0.842 dense, 0.772 hybrid): BM25 returns something for any shared word, so its ranking says less
# than the embedding's. Weighting dense 1.5 keeps paraphrase recall@5 at dense's 0.842 while keyword MRR stays
# at 0.863. Then a chunk BM25 ranks first (an exact error code, a SKU) scores at least 1/2 even when the
# embedding misses it entirely: ahead of the embedding's second (0.43), behind only its first (0.6).
RRF_K = 2
RRF_WEIGHTS = (1.5, 1.0)  # (dense, sparse): the order of the prefetches


@dataclass(frozen=True)
class MatchAny:
    """The payload field (a string or a list of strings) holds at least one of `values`."""

    key: str
    values: tuple[str, ...]
    # Also match points without the field: chunks indexed before the field existed count as holding the
    # default (see plan(): classification).
    or_missing: bool = False


@dataclass(frozen=True)
class Range:
    """The numeric payload field lies within [gte, lte]; an open end is None."""

    key: str
    gte: float | None = None
    lte: float | None = None


Condition = MatchAny | Range


@dataclass(frozen=True)
class Plan:
    """The effective mode and the conditions every branch of the engine query carries (all must hold)."""

    mode: SearchMode
    conditions: tuple[Condition, ...]
    # The population BM25's IDF is computed over: what the principal may read (empty: everything). With
    # collection-wide statistics a sparse score would reveal how often a term occurs in documents the
    # principal cannot read, e.g. whether a confidential code name appears anywhere.
    idf_corpus: tuple[Condition, ...]
    limit: int
    candidates: int

    @property
    def needs_sparse(self) -> bool:
        return self.mode in ("sparse", "hybrid")


def plan(query: SearchQuery) -> Plan | None:
    """The engine query to run, or None when nothing can match (no readable group or level, no keyword in a
    sparse query)."""
    if query.allowed_groups is not None and not query.allowed_groups:
        return None
    mode = query.mode
    no_terms = query.sparse is not None and not query.sparse.indices
    if mode == "sparse" and no_terms:
        return None
    if mode == "hybrid" and no_terms:
        mode = "dense"  # a question of stopwords only: the embedding still understands it
    if query.allowed_classifications is not None and not query.allowed_classifications:
        return None
    acl = _acl_conditions(query)
    # Points of a version still being ingested are never found, by anyone (admins included).
    live = (MatchAny("state", (SEARCHABLE_STATE,)),)
    return Plan(
        mode=mode,
        conditions=live + acl + _filter_conditions(query),
        idf_corpus=live + acl,
        limit=query.limit,
        candidates=query.candidates,
    )


def _acl_conditions(query: SearchQuery) -> tuple[Condition, ...]:
    """Who may read a chunk: a shared group, and a classification within the principal's clearance."""
    found: list[Condition] = []
    if query.allowed_groups is not None:
        found.append(MatchAny("groups", tuple(query.allowed_groups)))
    if query.allowed_classifications is not None:
        levels = tuple(query.allowed_classifications)
        # Chunks indexed before classifications existed have no such field; their documents were migrated to
        # the default level, so they match exactly when that level may be read (until re-ingestion stores it).
        found.append(MatchAny("classification", levels, or_missing=DEFAULT_CLASSIFICATION in levels))
    return tuple(found)


def _filter_conditions(query: SearchQuery) -> tuple[Condition, ...]:
    f = query.filters
    found: list[Condition] = []
    if f.document_ids:
        found.append(MatchAny("document_id", tuple(f.document_ids)))
    if f.tags:
        found.append(MatchAny("tags", tuple(f.tags)))
    if f.source_types:
        found.append(MatchAny("source_type", tuple(f.source_types)))
    if f.created_from is not None or f.created_to is not None:
        found.append(Range("created_at", _epoch(f.created_from), _epoch(f.created_to)))
    return tuple(found)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else epoch_seconds(moment)


def epoch_seconds(moment: datetime) -> float:
    """How a datetime is stored in the `created_at` payload field (naive means UTC, as in the database)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
