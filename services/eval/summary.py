"""From per-question results to the figures: averages per mode and kind, follow-up rewrites, refusals, calibration,
citation precision, and the headline `name=value` figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.eval import metrics
from services.eval.dataset import KINDS
from services.eval.runner import AUTO_REWRITE, QuestionResult, RunConfig, SearchOutcome

MAX_FALSE_REFUSAL_RATE = 0.05


@dataclass(frozen=True)
class RetrievalScores:
    questions: int
    recall_at_5: float | None
    recall_at_10: float | None
    mrr: float | None
    ndcg_at_10: float | None


@dataclass(frozen=True)
class RefusalScores:
    """The server's own `answerable` verdict in the default mode."""

    mode: str
    unanswerable: int  # questions with a verdict, each side
    answerable: int
    refusal_accuracy: float | None  # unanswerable questions it declared unanswerable
    false_refusal_rate: float | None  # answerable questions it declared unanswerable
    without_verdict: int  # responses that carried no `answerable` field
    without_similarity: int  # responses with no hits, or whose top hit carried no `similarity`


@dataclass(frozen=True)
class GenerationScores:
    """POST /v1/chat: citations and declines."""

    questions: int
    errors: int
    generated: int  # answers written by the model
    citation_precision: float | None  # over answerable questions with at least one citation
    citation_questions: int
    refusal_accuracy: float | None  # unanswerable questions the chat declined
    false_refusal_rate: float | None  # answerable questions the chat declined
    answered_rate: float | None = None  # answerable questions answered (generated or extractive), not declined
    fact_rate: float | None = None  # answerable questions whose answer holds the labelled fact
    fact_questions: int = 0
    extractive_rate: float | None = None  # answerable questions answered by quoting the sources
    citation_recall: float | None = None  # relevant documents cited / relevant documents (answerable, answered)
    unsupported_unmarked: int = 0  # generated sentences shown without a verdict, over all answers


@dataclass(frozen=True)
class Summary:
    questions: int
    default_mode: str
    modes: dict[str, RetrievalScores]
    by_kind: dict[str, dict[str, RetrievalScores]]  # mode -> kind -> scores (answerable kinds only)
    followup: dict[str, RetrievalScores]  # rewrite -> scores over follow-ups in the default mode
    refusal: RefusalScores
    calibration: metrics.Calibration
    generation: GenerationScores | None


def retrieval_scores(outcomes: Sequence[SearchOutcome]) -> RetrievalScores:
    return RetrievalScores(
        questions=len(outcomes),
        recall_at_5=metrics.mean(o.recall_at_5 for o in outcomes),
        recall_at_10=metrics.mean(o.recall_at_10 for o in outcomes),
        mrr=metrics.mean(o.reciprocal_rank for o in outcomes),
        ndcg_at_10=metrics.mean(o.ndcg_at_10 for o in outcomes),
    )


def _fraction(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarise(
    results: Sequence[QuestionResult], config: RunConfig, max_false_refusal_rate: float = MAX_FALSE_REFUSAL_RATE
) -> Summary:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    kinds = [k for k in KINDS if k != "unanswerable" and any(r.kind == k for r in answerable)]
    kinds += sorted({r.kind for r in answerable} - set(kinds))
    modes = {mode: retrieval_scores([r.searches[mode] for r in answerable]) for mode in config.modes}
    by_kind = {
        mode: {kind: retrieval_scores([r.searches[mode] for r in answerable if r.kind == kind]) for kind in kinds}
        for mode in config.modes
    }
    followups = [r for r in answerable if r.kind == "followup"]
    followup = {AUTO_REWRITE: retrieval_scores([r.searches[config.default_mode] for r in followups])}
    for rewrite in config.rewrites:
        followup[rewrite] = retrieval_scores([r.rewrites[rewrite] for r in followups if rewrite in r.rewrites])

    default = config.default_mode
    verdicts_no = [r.searches[default].answerable for r in unanswerable]
    verdicts_yes = [r.searches[default].answerable for r in answerable]
    refusal = RefusalScores(
        mode=default,
        unanswerable=sum(v is not None for v in verdicts_no),
        answerable=sum(v is not None for v in verdicts_yes),
        refusal_accuracy=_fraction([v is False for v in verdicts_no if v is not None]),
        false_refusal_rate=_fraction([v is False for v in verdicts_yes if v is not None]),
        without_verdict=sum(v is None for v in [*verdicts_no, *verdicts_yes]),
        without_similarity=sum(r.searches[default].top_similarity is None for r in results),
    )
    calibration = metrics.calibrate_floor(
        [r.searches[default].top_similarity for r in answerable],
        [r.searches[default].top_similarity for r in unanswerable],
        max_false_refusal_rate,
    )
    return Summary(
        questions=len(results),
        default_mode=default,
        modes=modes,
        by_kind=by_kind,
        followup=followup,
        refusal=refusal,
        calibration=calibration,
        generation=_generation(results) if config.generate else None,
    )


def _generation(results: Sequence[QuestionResult]) -> GenerationScores:
    chats = [(r, r.chat) for r in results if r.chat is not None]
    ok = [(r, c) for r, c in chats if c.error is None]
    precisions = [c.citation_precision for r, c in ok if r.answerable and c.citation_precision is not None]
    return GenerationScores(
        questions=len(chats),
        errors=len(chats) - len(ok),
        generated=sum(c.generated for _, c in ok),
        citation_precision=metrics.mean(precisions),
        citation_questions=len(precisions),
        refusal_accuracy=_fraction([c.declined for r, c in ok if not r.answerable]),
        false_refusal_rate=_fraction([c.declined for r, c in ok if r.answerable]),
        answered_rate=_fraction([not c.declined for r, c in ok if r.answerable]),
        fact_rate=_fraction([bool(c.contains_fact) for r, c in ok if r.answerable and c.contains_fact is not None]),
        fact_questions=sum(1 for r, c in ok if r.answerable and c.contains_fact is not None),
        extractive_rate=_fraction([c.mode == "extractive" for r, c in ok if r.answerable]),
        citation_recall=metrics.mean([c.citation_recall for r, c in ok if r.answerable and not c.declined]),
        unsupported_unmarked=sum(c.unsupported_unmarked for _, c in ok),
    )


def _relative_gain(new: float | None, base: float | None) -> float | None:
    return None if new is None or not base else (new - base) / base


def headline(summary: Summary) -> dict[str, float | int | None]:
    """The figures printed as `name=value` lines, in a stable order."""
    figures: dict[str, float | int | None] = {"questions": summary.questions}
    for mode, scores in summary.modes.items():
        figures[f"{mode}_recall_at_5"] = scores.recall_at_5
        figures[f"{mode}_recall_at_10"] = scores.recall_at_10
        figures[f"{mode}_mrr"] = scores.mrr
        figures[f"{mode}_ndcg_at_10"] = scores.ndcg_at_10
    if "hybrid" in summary.modes:
        for other in ("dense", "sparse"):
            if other in summary.modes:
                figures[f"hybrid_vs_{other}_ndcg_gain"] = _relative_gain(
                    summary.modes["hybrid"].ndcg_at_10, summary.modes[other].ndcg_at_10
                )
    figures["refusal_accuracy"] = summary.refusal.refusal_accuracy
    figures["false_refusal_rate"] = summary.refusal.false_refusal_rate
    figures["calibrated_floor"] = summary.calibration.floor
    figures["calibrated_refusal_accuracy"] = summary.calibration.refusal_accuracy
    figures["calibrated_false_refusal_rate"] = summary.calibration.false_refusal_rate
    for rewrite, scores in summary.followup.items():
        figures[f"followup_recall_at_10_{rewrite}"] = scores.recall_at_10
    if summary.generation is not None:
        figures["citation_precision"] = summary.generation.citation_precision
        figures["chat_refusal_accuracy"] = summary.generation.refusal_accuracy
        figures["chat_false_refusal_rate"] = summary.generation.false_refusal_rate
        figures["chat_errors"] = summary.generation.errors
        figures["chat_answered_rate"] = summary.generation.answered_rate
        figures["chat_fact_rate"] = summary.generation.fact_rate
        figures["chat_extractive_rate"] = summary.generation.extractive_rate
        figures["citation_recall"] = summary.generation.citation_recall
        figures["unsupported_unmarked"] = summary.generation.unsupported_unmarked
    return figures


def format_value(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"
