"""`steward tune` and `steward index`: adapt the encoder to the documents, list generations, roll back.

The running server does the work: it holds the vector index (in the embedded profile, alone) and keeps
answering searches from the live generation while the new one is built."""

from __future__ import annotations

import time
from pathlib import Path

import click
import httpx

from services.cli.context import client_for, load_settings
from services.client import StewardError as ClientError

_URL = click.option("--url", default=None, help="The server (default $STEWARD_URL or http://127.0.0.1:8000).")
_KEY = click.option("--api-key", default=None, help="Admin API key (default $STEWARD_API_KEY, else the admin key).")


@click.command()
@click.option(
    "--max-pairs", type=click.IntRange(16, 200_000), default=6000, show_default=True, help="Training pairs at most."
)
@click.option("--epochs", type=click.IntRange(1, 10), default=1, show_default=True)
@click.option(
    "--time-budget",
    type=click.FloatRange(1, 86_400),
    default=600,
    show_default=True,
    help="Seconds of training at most; what was learned by then is kept.",
)
@click.option(
    "--held-out",
    type=click.FloatRange(0.05, 0.5),
    default=0.15,
    show_default=True,
    help="Share of documents kept out of training, to judge the new encoder by.",
)
@click.option(
    "--switch/--no-switch",
    default=True,
    show_default=True,
    help="Re-index with the new encoder and switch when it ranks no worse on the held-out documents.",
)
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Your labelled questions (the `steward eval` JSONL) for the gate; without it the gate judges by held-out "
    "documents' sentences. Keep other questions out of it to report on.",
)
@click.option(
    "--generated-questions",
    type=click.IntRange(0, 20_000),
    default=0,
    show_default=True,
    help="Ask the configured LLM for a question about each of this many passages and train on them too "
    "(worth it with an instruction-tuned model; see docs/adaptation.md).",
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the progress until it ends.")
@_URL
@_KEY
def tune(
    max_pairs: int,
    epochs: int,
    time_budget: float,
    held_out: float,
    switch: bool,
    eval_file: Path | None,
    generated_questions: int,
    wait: bool,
    url: str | None,
    api_key: str | None,
) -> None:
    """Fine-tune the encoder on the indexed documents (no labels needed), re-index with it in the background and
    switch searches to it when it is no worse. Searches keep working throughout; `steward index rollback` undoes."""
    questions = _labelled(eval_file) if eval_file else []
    client = client_for(url, api_key)
    try:
        job = client.start_tuning(
            questions=questions,
            max_pairs=max_pairs,
            epochs=epochs,
            time_budget_s=time_budget,
            held_out=held_out,
            switch=switch,
            generated_questions=generated_questions,
        )
        click.echo(f"tuning started at {job.started_at:%H:%M:%S}", err=True)
        if not wait:
            return
        shown = ""
        while job.state == "running":
            time.sleep(2)
            job = client.tuning()
            line = f"{job.stage} {job.progress:.0%}"
            if line != shown:
                click.echo(line, err=True)
                shown = line
    except (ClientError, httpx.HTTPError, OSError) as exc:
        raise click.ClickException(f"tuning failed: {exc}") from exc
    finally:
        client.close()
    if job.state == "failed":
        raise click.ClickException(f"tuning failed: {job.error}")
    outcome = job.outcome
    report = outcome.get("report", {})
    gate = report.get("gate", {})
    click.echo(
        f"encoder {outcome.get('model')}: {report.get('pairs_training', 0)} pairs, "
        f"{report.get('training_seconds', 0)} s of training"
    )
    if report.get("generated_questions_asked"):
        click.echo(
            f"questions from the LLM: {report['generated_questions']} usable of "
            f"{report['generated_questions_asked']} passages asked"
        )
    if gate:
        click.echo(
            f"held-out nDCG@10 {gate['ndcg10_before']:.4f} -> {gate['ndcg10_after']:.4f} "
            f"({gate['questions']} questions); the new generation is {outcome.get('state')}"
        )
        if report.get("error"):
            click.echo(report["error"])


def _labelled(path: Path) -> list[dict[str, object]]:
    from services.eval.dataset import load_questions
    from services.eval.errors import EvalError

    try:
        questions = load_questions(path)
    except EvalError as exc:
        raise click.ClickException(str(exc)) from exc
    single_turn = [q for q in questions if q.answerable and not q.history]
    usable: list[dict[str, object]] = [{"question": q.question, "relevant": [*q.relevant]} for q in single_turn]
    if not usable:
        raise click.ClickException(f"{path} has no answerable single-turn question to judge by")
    return usable


@click.group()
def index() -> None:
    """The vector index's generations: which encoder and collection searches use."""


@index.command("generations")
@_URL
@_KEY
def generations(url: str | None, api_key: str | None) -> None:
    """List the generations, newest first; the live one is marked."""
    client = client_for(url, api_key)
    try:
        rows = client.index_generations()
    except (ClientError, httpx.HTTPError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    if not rows:
        click.echo("one generation: the shipped encoder (never tuned)")
    for row in rows:
        mark = "*" if row.state == "live" else " "
        gate = row.report.get("gate") or {}
        figure = f"  nDCG@10 {gate['ndcg10_before']:.3f}->{gate['ndcg10_after']:.3f}" if gate else ""
        floor = f"  floor {row.min_relevance:.3f}" if row.min_relevance is not None else ""
        click.echo(
            f"{mark} {row.id}  {row.state:<8}  {row.model:<28}  {row.points:>7} points{figure}{floor}"
            + (f"  ({row.error})" if row.error else "")
        )


@index.command("rollback")
@_URL
@_KEY
def rollback(url: str | None, api_key: str | None) -> None:
    """Make the previous generation live again (what changed since is carried over)."""
    client = client_for(url, api_key, timeout=3600)
    try:
        done = client.rollback_index()
    except (ClientError, httpx.HTTPError, OSError) as exc:
        raise click.ClickException(f"rollback failed: {exc}") from exc
    finally:
        client.close()
    click.echo(f"live again: {done['model']} (generation {done.get('generation_id')})")


@index.command("sentences")
@click.option("--batch", type=click.IntRange(1, 10_000), default=64, show_default=True, help="Chunks per pass.")
def sentences(batch: int) -> None:
    """Embed the sentences of chunks that have none stored (ingested before Steward stored them), straight on the
    database, so that chats citing them stop embedding them. Safe beside a running server, and resumable."""
    from services.core.answers.sentence_vectors import SentenceEncoder, fill_missing
    from services.core.db import migrate
    from services.core.db.session import make_engine, make_session_factory
    from services.core.embedding.dense import Embedder

    settings = load_settings()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    embedder = Embedder(settings.embedding_model, settings.embedding_batch_size, settings.embedding_replicas)
    encoder = SentenceEncoder(embed=embedder.embed_approximate, name=embedder.approximate_name)
    started = time.perf_counter()
    try:
        with click.progressbar(length=1, label="chunks", show_pos=True) as bar:

            def advance(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            filled = fill_missing(make_session_factory(engine), encoder, batch=batch, progress=advance)
    finally:
        embedder.close()
        engine.dispose()
    click.echo(f"sentence vectors stored for {filled} chunks in {time.perf_counter() - started:.1f} s ({encoder.name})")
