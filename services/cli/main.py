"""The `steward` command: serve, worker, ingest, ask, keys, model, migrate, audit, backup, restore, tune, index."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from services.cli.audit_commands import audit
from services.cli.backup_commands import backup, restore
from services.cli.context import DEFAULT_URL, client_for, load_settings
from services.cli.doctor_command import doctor
from services.cli.index_commands import index, tune
from services.cli.jobs_commands import jobs
from services.cli.keys_commands import keys
from services.cli.llm_commands import llm
from services.cli.policy_commands import policy
from services.cli.sites_commands import sites
from services.client import ChatAnswer, DoneEvent, StewardError, TokenEvent


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug output.")
@click.version_option(package_name="steward")
def cli(verbose: bool) -> None:
    """Steward: answers from your company's documents, with citations, under your rules."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if verbose else logging.WARNING)


@cli.command()
@click.option("--host", default=None, help="Bind address (default from STEWARD_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--llm/--no-llm", "manage_llm", default=None, help="Start the embedded vLLM server (default: on).")
def serve(host: str | None, port: int | None, manage_llm: bool | None) -> None:
    """Run the API (and, in the embedded profile, the ingestion worker and the vLLM server)."""
    import uvicorn

    from services.server import create_app

    settings = load_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if manage_llm is not None:
        settings.llm_manage_server = manage_llm
    llm_server = _start_llm(settings) if settings.llm_manage_server else None
    if llm_server is not None:
        settings.llm_base_url = llm_server.base_url  # the managed server's port wins over the default URL
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets `finally` stop vLLM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    finally:
        if llm_server is not None:
            click.echo("stopping the vLLM server…", err=True)
            llm_server.stop()


def _start_llm(settings):  # type: ignore[no-untyped-def]
    """Start vLLM in the background: the API comes up at once and answers 503 until the model is ready."""
    from services.serving.build import build_servable_model
    from services.serving.profiles import get_profile
    from services.serving.server import VLLMServer

    model_dir = build_servable_model(settings.cache_dir)
    server = VLLMServer(
        model_dir=model_dir,
        port=settings.llm_port,
        served_model_name=settings.llm_model,
        kv_cache_gib=settings.llm_kv_cache_gib,
        max_model_len=settings.llm_max_model_len,
        cache_dir=settings.cache_dir,
        log_path=settings.data_dir / "vllm.log",
        profile=get_profile(settings.llm_serving_profile),
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    click.echo(f"vLLM starting on port {settings.llm_port} (log: {settings.data_dir / 'vllm.log'})", err=True)
    threading.Thread(target=_report_llm_ready, args=(server, settings.llm_start_timeout_s), daemon=True).start()
    return server


def _report_llm_ready(server, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    """Say when the model is ready to answer (or why it never became so), without holding up the API."""
    log = logging.getLogger("steward.llm")
    try:
        server.wait_ready(timeout_s)
        log.info("vLLM is ready at %s: chat is available", server.base_url)
    except RuntimeError as exc:
        log.error("vLLM did not become ready: %s", exc)


cli.add_command(llm)
cli.add_command(audit)
cli.add_command(policy)
cli.add_command(jobs)
cli.add_command(doctor)
cli.add_command(keys)
cli.add_command(sites)
cli.add_command(backup)
cli.add_command(restore)
cli.add_command(tune)
cli.add_command(index)


@cli.command()
def worker() -> None:
    """Run a standalone ingestion worker (production profile: Redis broker, Qdrant server)."""
    from ingestion.worker import run_worker

    run_worker(load_settings())


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from services.core.db import migrate as migrations
    from services.core.db.session import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    click.echo(f"database at head: {engine.url.render_as_string(hide_password=True)}")


@cli.group()
def model() -> None:
    """Manage the embedded LLM."""


@model.command("build")
def model_build() -> None:
    """Build the servable Gemma model into the cache (once; later calls return at once)."""
    from services.serving.build import build_servable_model

    click.echo(build_servable_model(load_settings().cache_dir))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--groups", default="everyone", show_default=True, help="Comma-separated groups allowed to read.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until every document is ingested.")
@click.option("--url", default=None, help=f"API URL (default $STEWARD_URL or {DEFAULT_URL}).")
@click.option("--api-key", default=None, help="Admin API key (default $STEWARD_API_KEY).")
def ingest(paths: tuple[Path, ...], groups: str, wait: bool, url: str | None, api_key: str | None) -> None:
    """Upload files and folders (recursively) and wait until they are searchable.

    Each file's source is its path below the folder given (a file given directly: its name), so running
    the same command again uploads only what changed: new versions re-embed only their changed chunks.
    """
    from services.cli.bulk import find_files, run_bulk_ingest
    from services.core.formats import SUPPORTED_EXTENSIONS

    files = find_files(paths)
    if not files:
        raise click.ClickException(f"no supported files found (supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})")
    client = client_for(url, api_key)
    try:
        report = run_bulk_ingest(client, files, [g for g in groups.split(",") if g.strip()], wait)
    finally:
        client.close()
    click.echo(report.summary(), err=True)
    if report.failures:
        sys.exit(1)


@cli.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Corpus folder (default: corpus/ next to DATASET).",
)
@click.option("--url", default=None, help="Evaluate a running server (default: the embedded API in this process).")
@click.option("--api-key", default=None, help="Admin API key for --url (default $STEWARD_API_KEY).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("eval-report"), show_default=True)
@click.option("--modes", default="dense,sparse,hybrid", show_default=True, help="Retrieval modes to compare.")
@click.option("--generate/--no-generate", default=False, show_default=True, help="Also evaluate answers (needs an LLM)")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
def eval_command(
    dataset: Path,
    corpus: Path | None,
    url: str | None,
    api_key: str | None,
    out: Path,
    modes: str,
    generate: bool,
    limit: int | None,
) -> None:
    """Measure retrieval (recall, MRR, nDCG per mode), refusals and citations on a labelled DATASET (JSONL).

    Only the public HTTP API is used. Without --url the API runs in this process on a data dir cached under
    ~/.cache/steward/eval, so a second run reuses the ingested corpus. Headline figures go to stdout as
    name=value lines; report.md, metrics.json, calibration.csv, per_question.jsonl and chart.png go to --out.
    """
    from services.eval.command import run_eval
    from services.eval.errors import EvalError

    try:
        outcome = run_eval(
            dataset, corpus=corpus, url=url, api_key=api_key, out=out, modes=modes, generate=generate, limit=limit
        )
    except EvalError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in outcome.headline_lines():
        click.echo(line)
    click.echo(f"report: {outcome.files['report']}", err=True)


@cli.command()
@click.argument("question")
@click.option("--conversation", default=None, help="Continue this conversation id.")
@click.option("--stream/--no-stream", default=True, show_default=True)
@click.option("--url", default=None)
@click.option("--api-key", default=None)
def ask(question: str, conversation: str | None, stream: bool, url: str | None, api_key: str | None) -> None:
    """Ask a question; prints the answer as it is written, then what the sources do not support, and the sources."""
    client = client_for(url, api_key)
    try:
        result: ChatAnswer | None = None
        if stream:
            for event in client.chat_stream(question, conversation_id=conversation):
                if isinstance(event, TokenEvent):
                    click.echo(event.text, nl=False)
                elif isinstance(event, DoneEvent):
                    result = event
            click.echo()
        else:
            result = client.chat(question, conversation_id=conversation)
            click.echo(result.answer)
    except StewardError as exc:
        # An error event mid-stream is shown by its message alone: the response itself was a 200.
        raise click.ClickException(exc.message if exc.streamed else str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    if result is None:
        return
    show_verdicts(result)
    for citation in result.citations:
        places = "; ".join(", ".join(f"{k} {v}" for k, v in place.items()) for place in citation.locations)
        click.echo(f"[{citation.source}] {citation.title}" + (f" ({places})" if places else ""), err=True)
    click.echo(f"conversation: {result.conversation_id}", err=True)


def show_verdicts(result: ChatAnswer) -> None:
    """Unsupported sentences, struck through in the terminal with the reason; an extractive answer said so."""
    for sentence in result.sentences:
        if not sentence.supported and sentence.shown:
            struck = click.style(sentence.text, strikethrough=True, fg="red")
            click.echo(f"⚠ not supported by the sources: {struck} ({sentence.reason})", err=True)
    if result.mode == "extractive":
        click.echo("(quoted from the documents: no generated sentence could be checked against them)", err=True)
