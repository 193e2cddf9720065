"""Write the evaluation out: report.md, metrics.json, calibration.csv, per_question.jsonl and chart.png."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.eval.runner import QuestionResult
from services.eval.summary import RetrievalScores, Summary, format_value, headline

METRIC_LABELS = {"recall_at_5": "recall@5", "recall_at_10": "recall@10", "mrr": "MRR", "ndcg_at_10": "nDCG@10"}
REWRITE_NOTES = {
    "auto": "the server decides",
    "off": "the question alone",
    "concat": "earlier user turns + the question",
    "llm": "rewritten by the LLM",
}


@dataclass(frozen=True)
class RunInfo:
    """What was evaluated, against what, and how: printed at the top of the report and kept in metrics.json."""

    dataset: str
    dataset_sha256: str
    questions_by_kind: dict[str, int]
    corpus: str
    corpus_files: int
    target: str  # "in-process ..." or the server URL
    steward_version: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    options: dict[str, Any] = field(default_factory=dict)  # modes, top_k, generate, limit, ...
    settings: dict[str, Any] = field(default_factory=dict)  # server settings when known (in-process)


def write_report(out_dir: Path, info: RunInfo, summary: Summary, results: Sequence[QuestionResult]) -> dict[str, Path]:
    """Write every file into `out_dir` (created if needed); returns them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "report": out_dir / "report.md",
        "metrics": out_dir / "metrics.json",
        "calibration": out_dir / "calibration.csv",
        "per_question": out_dir / "per_question.jsonl",
        "chart": out_dir / "chart.png",
    }
    files["metrics"].write_text(json.dumps(metrics_document(info, summary), indent=2) + "\n", encoding="utf-8")
    write_calibration_csv(files["calibration"], summary)
    with files["per_question"].open("w", encoding="utf-8") as handle:
        for result in results:
            handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    draw_chart(files["chart"], summary)
    files["report"].write_text(markdown(info, summary), encoding="utf-8")
    return files


def metrics_document(info: RunInfo, summary: Summary) -> dict[str, Any]:
    return {
        "run": asdict(info),
        "headline": headline(summary),
        "default_mode": summary.default_mode,
        "retrieval": {mode: asdict(scores) for mode, scores in summary.modes.items()},
        "retrieval_by_kind": {
            mode: {kind: asdict(scores) for kind, scores in kinds.items()} for mode, kinds in summary.by_kind.items()
        },
        "followup_rewrites": {rewrite: asdict(scores) for rewrite, scores in summary.followup.items()},
        "refusal": asdict(summary.refusal),
        "calibration": asdict(summary.calibration),
        "generation": asdict(summary.generation) if summary.generation else None,
    }


def write_calibration_csv(path: Path, summary: Summary) -> None:
    cap = summary.calibration.max_false_refusal_rate
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["threshold", "refusal_accuracy", "false_refusal_rate", "within_cap"])
        for point in summary.calibration.curve:
            within = point.false_refusal_rate is not None and point.false_refusal_rate <= cap + 1e-12
            writer.writerow(
                [
                    f"{point.threshold:.2f}",
                    "" if point.refusal_accuracy is None else f"{point.refusal_accuracy:.4f}",
                    "" if point.false_refusal_rate is None else f"{point.false_refusal_rate:.4f}",
                    str(within).lower(),
                ]
            )


# --- chart --------------------------------------------------------------------------------------------------------


def draw_chart(path: Path, summary: Summary) -> None:
    """Grouped bars of the retrieval metrics per mode, and the refusal curve with the calibrated floor."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # the Agg backend, without touching pyplot's global state
    bars, curve = figure.subplots(1, 2, width_ratios=[3, 2])

    modes = list(summary.modes)
    width = 0.8 / len(METRIC_LABELS)
    for index, (name, label) in enumerate(METRIC_LABELS.items()):
        values = [getattr(summary.modes[mode], name) or 0.0 for mode in modes]
        positions = [m + (index - (len(METRIC_LABELS) - 1) / 2) * width for m in range(len(modes))]
        drawn = bars.bar(positions, values, width, label=label)
        bars.bar_label(drawn, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    bars.set_xticks(range(len(modes)), [f"{m}\n({summary.modes[m].questions} q)" for m in modes])
    bars.set_ylim(0, 1.2)
    bars.set_ylabel("score (answerable questions)")
    bars.set_title("Retrieval per mode")
    bars.legend(loc="upper center", ncols=len(METRIC_LABELS), fontsize=8)
    bars.grid(axis="y", alpha=0.3)

    calibration = summary.calibration
    thresholds = [p.threshold for p in calibration.curve]
    refused = [p.refusal_accuracy for p in calibration.curve]
    false = [p.false_refusal_rate for p in calibration.curve]
    if any(v is not None for v in refused):
        curve.plot(thresholds, [float("nan") if v is None else v for v in refused], label="unanswerable refused")
    if any(v is not None for v in false):
        curve.plot(thresholds, [float("nan") if v is None else v for v in false], label="answerable refused (false)")
    curve.axhline(
        calibration.max_false_refusal_rate, color="grey", linestyle=":", linewidth=1, label="false-refusal cap"
    )
    if calibration.floor is not None:
        curve.axvline(calibration.floor, color="black", linestyle="--", linewidth=1)
        curve.annotate(
            f"floor {calibration.floor:.2f}", (calibration.floor, 0.5), xytext=(4, 0), textcoords="offset points"
        )
    if summary.refusal.without_similarity == summary.questions:
        curve.text(0.5, 0.5, "no similarity in the search responses", ha="center", transform=curve.transAxes)
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1.02)
    curve.set_xlabel(f"relevance floor (top-hit similarity, {summary.default_mode})")
    curve.set_ylabel("fraction refused")
    curve.set_title("Refusal curve")
    curve.legend(loc="center right", fontsize=8)
    curve.grid(alpha=0.3)
    figure.savefig(path, format="png")


# --- markdown -----------------------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        return format_value(value) if value is None or isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _scores_row(scores: RetrievalScores) -> list[object]:
    return [scores.questions, scores.recall_at_5, scores.recall_at_10, scores.mrr, scores.ndcg_at_10]


def markdown(info: RunInfo, summary: Summary) -> str:
    figures = headline(summary)
    lines = [
        "# Steward evaluation report",
        "",
        f"- Date: {info.started_at} (took {info.duration_s:.0f} s)",
        f"- Dataset: `{info.dataset}` (sha256 `{info.dataset_sha256[:16]}`), {summary.questions} questions: "
        + ", ".join(f"{kind} {count}" for kind, count in info.questions_by_kind.items()),
        f"- Corpus: `{info.corpus}`, {info.corpus_files} files",
        f"- API: {info.target}; steward {info.steward_version}",
        "- Options: " + ", ".join(f"{k}={v}" for k, v in info.options.items()),
    ]
    if info.settings:
        lines.append("- Settings: " + ", ".join(f"{k}={v}" for k, v in info.settings.items()))
    lines += [
        "",
        "Ranks count distinct documents: each search asks for 30 chunks, keeps each document's first hit and scores",
        "the first 10. Relevance is binary; recall, MRR and nDCG are averaged over answerable questions.",
        "",
        "## Retrieval per mode",
        "",
        *_table(
            ["mode", "questions", "recall@5", "recall@10", "MRR", "nDCG@10"],
            [[mode, *_scores_row(scores)] for mode, scores in summary.modes.items()],
        ),
    ]
    gains = [(name, value) for name, value in figures.items() if name.endswith("_ndcg_gain")]
    if gains:
        lines += ["", "Relative nDCG@10 gain: " + ", ".join(f"{n} = {format_value(v)}" for n, v in gains)]
    lines += ["", "## Retrieval per kind", ""]
    rows = [
        [kind, mode, *_scores_row(scores)]
        for kind in next(iter(summary.by_kind.values()), {})
        for mode, kinds in summary.by_kind.items()
        for scores in [kinds[kind]]
    ]
    lines += _table(["kind", "mode", "questions", "recall@5", "recall@10", "MRR", "nDCG@10"], rows)
    lines += [
        "",
        f"## Follow-up rewriting ({summary.default_mode})",
        "",
        *_table(
            ["rewrite", "what is searched", "questions", "recall@10", "MRR", "nDCG@10"],
            [
                [rewrite, REWRITE_NOTES.get(rewrite, ""), s.questions, s.recall_at_10, s.mrr, s.ndcg_at_10]
                for rewrite, s in summary.followup.items()
            ],
        ),
    ]
    lines += _refusal_section(summary)
    lines += _generation_section(summary)
    lines += [
        "",
        "## Files",
        "",
        "- `metrics.json`: every figure above; `calibration.csv`: the refusal curve;",
        "  `per_question.jsonl`: each question's ranked documents, ranks and scores per mode.",
        "",
        "![retrieval and refusal chart](chart.png)",
        "",
    ]
    return "\n".join(lines)


def _refusal_section(summary: Summary) -> list[str]:
    refusal, calibration = summary.refusal, summary.calibration
    cap = f"{calibration.max_false_refusal_rate:.0%}"
    lines = [
        "",
        f"## Refusal ({refusal.mode})",
        "",
        "The server's verdict (`answerable` in the search response):",
        "",
        *_table(
            ["figure", "value", "over"],
            [
                [
                    "refusal accuracy (unanswerable declared unanswerable)",
                    refusal.refusal_accuracy,
                    f"{refusal.unanswerable} unanswerable",
                ],
                [
                    "false refusals (answerable declared unanswerable)",
                    refusal.false_refusal_rate,
                    f"{refusal.answerable} answerable",
                ],
            ],
        ),
    ]
    if refusal.without_verdict:
        lines += ["", f"{refusal.without_verdict} search responses carried no `answerable` verdict."]
    if refusal.without_similarity:
        lines += [
            "",
            f"{refusal.without_similarity} questions had no top-hit `similarity` (no hits, or the field is missing);"
            " calibration counts them as refused at every floor.",
        ]
    lines += ["", "### Calibration", ""]
    if calibration.floor is None:
        lines.append(f"No relevance floor keeps false refusals within {cap} (or a side has no questions).")
    else:
        lines.append(
            f"Refusing when the top hit's similarity is below **{calibration.floor:.2f}** refuses "
            f"{format_value(calibration.refusal_accuracy)} of unanswerable questions with "
            f"{format_value(calibration.false_refusal_rate)} false refusals (cap {cap}); "
            "the full curve is in `calibration.csv` and on the chart."
        )
    return lines


def _generation_section(summary: Summary) -> list[str]:
    lines = ["", "## Answers (POST /v1/chat)", ""]
    generation = summary.generation
    if generation is None:
        return [*lines, "Not run (`--no-generate`)."]
    lines += _table(
        ["figure", "value", "over"],
        [
            [
                "citation precision",
                generation.citation_precision,
                f"{generation.citation_questions} answerable questions with citations",
            ],
            ["chat refusal accuracy (unanswerable declined)", generation.refusal_accuracy, "unanswerable questions"],
            ["chat false refusals (answerable declined)", generation.false_refusal_rate, "answerable questions"],
            ["answers generated by the model", generation.generated, f"{generation.questions} questions"],
            ["errors", generation.errors, f"{generation.questions} questions"],
        ],
    )
    lines += [
        "",
        "Cited documents are those whose `[n]` marker appears in the answer, or every citation when the answer has",
        "no markers. A chat declines when it is `refused` or did not answer from sources.",
    ]
    return lines
