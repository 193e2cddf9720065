"""`steward eval DATASET`: load, ingest (or reuse), ask, score, write the report; the CLI prints the headline."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.eval.corpus import corpus_files, ingest_corpus
from services.eval.dataset import KINDS, check_relevant_exist, load_questions
from services.eval.errors import EvalError
from services.eval.report import RunInfo, write_report
from services.eval.runner import MODES, RANK_DEPTH, SEARCH_TOP_K, RunConfig, run_questions
from services.eval.summary import MAX_FALSE_REFUSAL_RATE, format_value, headline, summarise
from services.eval.target import Target, inprocess_target, remote_target, steward_version


@dataclass(frozen=True)
class EvalOutcome:
    figures: dict[str, float | int | None]
    files: dict[str, Path]

    def headline_lines(self) -> Iterator[str]:
        for name, value in self.figures.items():
            yield f"{name}={format_value(value)}"


def parse_modes(text: str) -> tuple[str, ...]:
    modes = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        raise EvalError(f"--modes takes a comma-separated subset of {','.join(MODES)}, got {text!r}")
    return modes


def _api_key(api_key: str | None) -> str:
    if api_key:
        return api_key
    if os.environ.get("STEWARD_API_KEY"):
        return os.environ["STEWARD_API_KEY"]
    from services.core.settings import Settings

    try:
        return Settings().admin_api_key.get_secret_value()
    except Exception as exc:
        raise EvalError(f"invalid settings: {exc}") from exc


def run_eval(
    dataset: Path,
    *,
    corpus: Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    out: Path = Path("eval-report"),
    modes: str = ",".join(MODES),
    generate: bool = False,
    limit: int | None = None,
) -> EvalOutcome:
    started, clock = datetime.now(UTC), time.monotonic()
    config = RunConfig(modes=parse_modes(modes), generate=generate)
    questions = load_questions(dataset)
    if limit is not None:
        questions = questions[:limit]
    corpus_dir = corpus if corpus is not None else dataset.parent / "corpus"
    files = corpus_files(corpus_dir)
    check_relevant_exist(questions, {f.source for f in files}, corpus_dir)

    target: AbstractContextManager[Target] = (
        remote_target(url, _api_key(api_key)) if url else inprocess_target(files, generate)
    )
    with target as api:
        ingested = ingest_corpus(api.client, files)
        api.mark_ingested()
        print(
            f"[steward eval] corpus ready: {len(files)} documents "
            f"({ingested.uploaded} ingested now, {ingested.unchanged} already there)",
            file=sys.stderr,
        )
        if generate:
            api.wait_for_llm()
        sources = {document_id: source for source, document_id in ingested.document_ids.items()}
        results = run_questions(api.client, questions, sources, config)
        description, settings = api.description, api.settings

    summary = summarise(results, config)
    kinds = Counter(q.kind for q in questions)
    info = RunInfo(
        dataset=str(dataset),
        dataset_sha256=hashlib.sha256(dataset.read_bytes()).hexdigest(),
        questions_by_kind={kind: kinds[kind] for kind in [*KINDS, *sorted(set(kinds) - set(KINDS))] if kinds[kind]},
        corpus=str(corpus_dir),
        corpus_files=len(files),
        target=description,
        steward_version=steward_version(),
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - clock, 1),
        options={
            "modes": ",".join(config.modes),
            "default_mode": config.default_mode,
            "search_top_k": SEARCH_TOP_K,
            "rank_depth": RANK_DEPTH,
            "generate": generate,
            "followup_rewrites": ",".join(["auto", *config.rewrites]),
            "max_false_refusal_rate": MAX_FALSE_REFUSAL_RATE,
            "limit": limit,
        },
        settings=settings,
    )
    return EvalOutcome(headline(summary), write_report(out, info, summary, results))
