"""Ask every question through the API and score it: per retrieval mode, per follow-up rewrite, and (optionally) chat."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from services.core.answers import extractive
from services.core.answers.grounding import split_sentences
from services.eval import metrics
from services.eval.client import ApiError, EvalClient
from services.eval.dataset import Question, contains_fact
from services.eval.errors import EvalError

MODES = ("dense", "sparse", "hybrid")
DEFAULT_MODE = "hybrid"
SEARCH_TOP_K = 30  # chunks fetched per search; deduplicated to documents, of which RANK_DEPTH are scored
RANK_DEPTH = 10
AUTO_REWRITE = "auto"


@dataclass(frozen=True)
class RunConfig:
    modes: tuple[str, ...] = MODES
    generate: bool = False  # an LLM answers: chat is evaluated and the "llm" rewrite is compared

    @property
    def default_mode(self) -> str:
        """The mode refusals, calibration and the follow-up rewrites are measured in."""
        return DEFAULT_MODE if DEFAULT_MODE in self.modes else self.modes[0]

    @property
    def rewrites(self) -> tuple[str, ...]:
        """Follow-up rewrites compared in the default mode (besides the server's own choice, "auto")."""
        return ("off", "concat", "llm") if self.generate else ("off", "concat")


@dataclass
class SearchOutcome:
    """One search of one question: its distinct documents and their scores (None for unanswerable questions)."""

    ranked: list[str]  # distinct documents (corpus sources) of the chunk hits, best first, the first RANK_DEPTH
    first_relevant_rank: int | None
    recall_at_5: float | None
    recall_at_10: float | None
    reciprocal_rank: float | None
    ndcg_at_10: float | None
    top_similarity: float | None  # the top hit's similarity; None when nothing was found
    answerable: bool | None  # the server's verdict; None when the response does not say
    query: str | None  # what was searched after rewriting
    rewrite: str | None  # the rewrite the server applied
    hits: int  # chunks returned


@dataclass
class ChatOutcome:
    answer: str
    citations: list[str]  # documents of the returned citations, in order
    cited: list[str]  # the documents the answer cites (markers, else every citation)
    citation_precision: float | None
    refused: bool
    generated: bool
    answered_from_sources: bool | None
    declined: bool  # refused by a policy rule, or nothing relevant found: no answer from the documents
    error: str | None = None
    mode: str | None = None  # generated | extractive | refused | not_found
    contains_fact: bool | None = None  # the answer holds the question's labelled fact (None: no facts)
    citation_recall: float | None = None  # relevant documents the answer cites / relevant documents
    unsupported_unmarked: int = 0  # generated sentences the sources do not support that reached the user unmarked


@dataclass
class QuestionResult:
    id: str
    kind: str
    question: str
    answerable: bool
    relevant: list[str]
    searches: dict[str, SearchOutcome] = field(default_factory=dict)  # mode -> outcome (rewrite "auto")
    rewrites: dict[str, SearchOutcome] = field(default_factory=dict)  # follow-ups: rewrite -> default-mode outcome
    chat: ChatOutcome | None = None


def source_name(document_id: str, sources: Mapping[str, str]) -> str:
    """The corpus source of a document id; documents from outside the corpus keep a visible marker."""
    return sources.get(document_id, f"<not in corpus: {document_id}>")


def score_search(response: Mapping[str, Any], relevant: Sequence[str], sources: Mapping[str, str]) -> SearchOutcome:
    """Turn one /v1/search response into ranked documents and their metrics."""
    hits: list[dict[str, Any]] = list(response.get("results") or [])
    ranked = metrics.distinct_documents(source_name(str(h["document_id"]), sources) for h in hits)
    similarity = hits[0].get("similarity") if hits else None
    verdict = response.get("answerable")
    scored = bool(relevant)
    return SearchOutcome(
        ranked=ranked[:RANK_DEPTH],
        first_relevant_rank=metrics.first_relevant_rank(ranked, relevant, RANK_DEPTH) if scored else None,
        recall_at_5=metrics.recall_at_k(ranked, relevant, 5) if scored else None,
        recall_at_10=metrics.recall_at_k(ranked, relevant, 10) if scored else None,
        reciprocal_rank=metrics.reciprocal_rank(ranked, relevant, RANK_DEPTH) if scored else None,
        ndcg_at_10=metrics.ndcg_at_k(ranked, relevant, 10) if scored else None,
        top_similarity=float(similarity) if isinstance(similarity, int | float) else None,
        answerable=verdict if isinstance(verdict, bool) else None,
        query=response.get("query"),
        rewrite=response.get("rewrite"),
        hits=len(hits),
    )


def score_chat(
    response: Mapping[str, Any], relevant: Sequence[str], sources: Mapping[str, str], facts: Sequence[str] = ()
) -> ChatOutcome:
    """Turn one /v1/chat response into cited documents, citation precision and recall, whether it declined,
    whether it holds the labelled fact, and how many unsupported sentences it showed without a verdict."""
    answer = str(response.get("answer") or "")
    pairs = [(int(c["source"]), source_name(str(c["document_id"]), sources)) for c in response.get("citations") or []]
    refused = bool(response.get("refused"))
    from_sources = response.get("answered_from_sources")
    from_sources = from_sources if isinstance(from_sources, bool) else None
    cited = metrics.cited_documents(answer, pairs)
    return ChatOutcome(
        answer=answer,
        citations=[document for _, document in pairs],
        cited=cited,
        citation_precision=metrics.citation_precision(answer, pairs, set(relevant)),
        refused=refused,
        generated=bool(response.get("generated")),
        answered_from_sources=from_sources,
        declined=refused or from_sources is False,
        mode=str(response["mode"]) if response.get("mode") else None,
        contains_fact=contains_fact(answer, facts),
        citation_recall=sum(doc in cited for doc in relevant) / len(relevant) if relevant and pairs else None,
        unsupported_unmarked=unmarked_sentences(response),
    )


def unmarked_sentences(response: Mapping[str, Any]) -> int:
    """Generated sentences the answer shows without a verdict a client could mark them by (the quoted part of an
    extractive answer is the documents' own words, not generated). 0 unless a sentence slipped past grounding."""
    if response.get("mode") not in ("generated", "extractive"):
        return 0
    verdicts = {str(s.get("text", "")) for s in response.get("sentences") or [] if s.get("shown")}
    generated = str(response.get("answer") or "").split(extractive.INTRO)[0]
    return sum(1 for sentence in split_sentences(generated) if sentence not in verdicts)


def run_questions(
    client: EvalClient,
    questions: Sequence[Question],
    sources: Mapping[str, str],
    config: RunConfig,
    *,
    show_progress: bool = True,
) -> list[QuestionResult]:
    """Every question through every configured call, in order. `sources` maps document ids to corpus sources."""
    results = []
    for question in tqdm(questions, desc="questions", unit="q", file=sys.stderr, disable=not show_progress):
        try:
            results.append(_run_one(client, question, sources, config))
        except ApiError as exc:
            raise EvalError(f"question {question.id} (line {question.line}): {exc}") from exc
    return results


def _run_one(client: EvalClient, question: Question, sources: Mapping[str, str], config: RunConfig) -> QuestionResult:
    history = question.history_payload() or None
    result = QuestionResult(
        id=question.id,
        kind=question.kind,
        question=question.question,
        answerable=question.answerable,
        relevant=list(question.relevant),
    )
    for mode in config.modes:
        response = client.search(question.question, mode, SEARCH_TOP_K, AUTO_REWRITE, history)
        result.searches[mode] = score_search(response, question.relevant, sources)
    if question.kind == "followup" and question.answerable:
        for rewrite in config.rewrites:
            response = client.search(question.question, config.default_mode, SEARCH_TOP_K, rewrite, history)
            result.rewrites[rewrite] = score_search(response, question.relevant, sources)
    if config.generate:
        try:
            response = client.chat(question.question, history)
            result.chat = score_chat(response, question.relevant, sources, question.facts)
        except ApiError as exc:  # one failed answer is reported, not fatal
            result.chat = ChatOutcome("", [], [], None, False, False, None, False, error=str(exc))
    return result
