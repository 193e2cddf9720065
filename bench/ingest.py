"""Ingestion throughput against the embedder's own ceiling, measured in one run.

Generates a corpus of mixed-format documents (Markdown, text, HTML, DOCX, PDF, PPTX, XLSX, CSV, EML), queues
them all, then times the real path — Celery worker threads on the embedded profile (SQLite broker,
Qdrant Edge): parse, chunk, embed, index, commit — until every document is ready. The baseline is the
pipeline's own encoder set-up (`Embedder`: the same single-thread replicas and batch size) encoding exactly the
same passages with nothing around it, measured right after each pipeline run so the ratio survives a noisy,
shared machine: `pipeline_vs_encode_ratio` is the share of the encoder's ceiling the pipeline reaches.
Then (`--short-docs`, default 600) a corpus of short knowledge-base articles (at most five passages each) is
uploaded through the API one file after another while one worker ingests, timed from the first upload to the
last document ready: `short_docs_pipeline_vs_encode_ratio`, against the same baseline. Prints one `name=value`
per line.

Each run also accounts for the cores: the CPU seconds of every process (`*_cpu_s`), of the encoder replica
processes alone (`*_encoder_cpu_s`) and of everything else (`*_other_cpu_s`), and `*_ceiling_ratio`, the ratio
the cores would allow if the encoder spent no more CPU a passage than in the baseline: the work that is not
encoding, on the same cores, caps the ratio whatever the scheduling.

    python bench/ingest.py [--docs 300] [--short-docs 600] [--only-short]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from bench.cpu import children, cpu_seconds
from ingestion.chunk_plan import embedding_text
from ingestion.worker import InProcessWorker
from services.core.db.models import Chunk, Document
from services.core.db.session import session_scope
from services.core.settings import Settings
from services.server import create_app
from tests.fixtures.documents import (
    make_csv,
    make_docx,
    make_eml,
    make_html,
    make_markdown,
    make_pdf,
    make_pptx,
    make_text,
    make_xlsx,
)

ADMIN_KEY = "stw_bench_admin_key_8d2e5b1f9c4a7e0b3d6f"
TOPICS = ["parking", "travel", "holidays", "expenses", "security", "canteen", "laptops", "onboarding", "payroll"]
VERBS = ["requires", "allows", "forbids", "documents", "explains", "limits", "extends", "replaces"]
OBJECTS = [
    "approval by a manager",
    "a signed form",
    "two weeks notice",
    "a ticket in the service desk",
    "the annual budget",
    "badge access",
    "a receipt",
    "the quarterly review",
]


def sentence(rng: random.Random, topic: str) -> str:
    return (
        f"The {topic} rule {rng.randint(1, 99)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"for staff in building {rng.choice('ABCDEFG')}{rng.randint(1, 9)}."
    )


def paragraph(rng: random.Random, topic: str, sentences: int) -> str:
    return " ".join(sentence(rng, topic) for _ in range(sentences))


def corpus(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """`count` documents over nine formats; sizes vary from a few passages to a few dozen."""
    rng = random.Random(seed)
    files: list[tuple[str, bytes]] = []
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        title = f"{topic.title()} handbook {n}"
        sections = [
            (f"{topic.title()} part {k}", paragraph(rng, topic, rng.randint(4, 14))) for k in range(rng.randint(2, 8))
        ]
        kind = n % 9
        if kind == 0:
            files.append((f"{topic}-{n}.md", make_markdown(title, sections)))
        elif kind == 1:
            files.append((f"{topic}-{n}.html", make_html(title, sections)))
        elif kind == 2:
            files.append((f"{topic}-{n}.docx", make_docx(title, sections)))
        elif kind == 3:
            files.append((f"{topic}-{n}.pdf", make_pdf([body for _, body in sections], title=title)))
        elif kind == 4:
            files.append((f"{topic}-{n}.txt", make_text("\n\n".join(body for _, body in sections))))
        elif kind == 5:
            slides = [(heading, [sentence(rng, topic) for _ in range(4)]) for heading, _ in sections]
            files.append((f"{topic}-{n}.pptx", make_pptx(slides)))
        elif kind == 6:
            rows = [["Item", "Owner", "Rule"]] + [
                [f"{topic}-{i}", f"team {rng.randint(1, 20)}", sentence(rng, topic)] for i in range(rng.randint(10, 60))
            ]
            files.append((f"{topic}-{n}.xlsx", make_xlsx({"Register": rows})))
        elif kind == 7:
            rows = [["Code", "Site", "Note"]] + [
                [f"{topic[:3].upper()}-{i}", rng.choice("ABCDEFG"), sentence(rng, topic)]
                for i in range(rng.randint(10, 60))
            ]
            files.append((f"{topic}-{n}.csv", make_csv(rows)))
        else:
            body = "\n\n".join(body for _, body in sections)
            files.append(
                (f"{topic}-{n}.eml", make_eml(title, body, [("notes.txt", paragraph(rng, topic, 6).encode())]))
            )
    return files


def short_corpus(count: int, seed: int = 11) -> list[tuple[str, bytes]]:
    """`count` short knowledge-base articles (Markdown, one to four short sections: at most five passages each),
    the shape of a help centre's export, where per-document costs weigh most."""
    rng = random.Random(seed)
    files = []
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        sections = [
            (f"{topic.title()} question {k}", paragraph(rng, topic, rng.randint(2, 6)))
            for k in range(rng.randint(1, 4))
        ]
        files.append((f"kb-{topic}-{n}.md", make_markdown(f"How {topic} works, article {n}", sections)))
    return files


@dataclass(frozen=True)
class PipelineRun:
    seconds: float
    texts: list[str]
    cpu_s: float  # every process of the run: API, worker threads, encoder replicas, parsing helper
    encoder_cpu_s: float  # the encoder replica processes alone (0 when they run inside the API process)
    upload_s: float = 0.0  # uploading while ingesting: from the first upload to the last one's 202


def upload(client: TestClient, filename: str, data: bytes) -> None:
    response = client.post(
        "/v1/documents",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        files={"file": (filename, data)},
        data={"groups": "everyone", "source": filename},
    )
    assert response.status_code == 202, response.text


def run_pipeline(files: list[tuple[str, bytes]], workers: int, *, upload_while_ingesting: bool = False) -> PipelineRun:
    """Queue every file, then time `workers` Celery workers (default threads each) until all are ready; or, with
    `upload_while_ingesting`, start the workers first and time from the first upload, one file after another
    through the API as an admin would, to the last document ready.

    Returns the seconds, the embedded texts and the CPU time spent meanwhile. The embedded shard has one owner, so
    a second worker runs in the same process, sharing the shard and the embedder, each with its own consumer, as
    two would in production.
    """
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            admin_api_key=SecretStr(ADMIN_KEY),
            worker_mode="external",  # nothing consumes while the corpus is queued
            llm_manage_server=False,
        )
        with TestClient(create_app(settings)) as client:
            if not upload_while_ingesting:
                for filename, data in files:
                    upload(client, filename, data)
            runtime = client.app.state.runtime  # type: ignore[attr-defined]
            pool = [InProcessWorker(runtime) for _ in range(workers)]
            # Worker start-up (the parsing helper process importing its libraries) is not throughput,
            # just as loading the model is not part of the encode baseline.
            for worker in pool:
                worker.warm()
            processes = [os.getpid(), *children(os.getpid())]
            encoders = runtime.embedder.process_ids
            cpu_before, encoder_cpu_before = cpu_seconds(processes), cpu_seconds(encoders)
            started = time.perf_counter()
            for worker in pool:
                worker.start()
            try:
                uploaded = 0.0
                if upload_while_ingesting:
                    for filename, data in files:
                        upload(client, filename, data)
                    uploaded = time.perf_counter() - started
                while True:
                    with session_scope(runtime.sessions) as session:
                        statuses = list(session.scalars(select(Document.status)))
                    if all(s in ("ready", "failed") for s in statuses):
                        break
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                cpu_s = cpu_seconds(processes) - cpu_before
                encoder_cpu_s = cpu_seconds(encoders) - encoder_cpu_before
            finally:
                for worker in pool:
                    worker.stop()
            with session_scope(runtime.sessions) as session:
                failed = session.scalars(select(Document.filename).where(Document.status == "failed")).all()
                if failed:
                    raise SystemExit(f"{len(failed)} documents failed, e.g. {failed[:3]}")
                rows = session.execute(
                    select(Document.title, Chunk).join(Chunk, Chunk.document_id == Document.id)
                ).all()
                texts = [embedding_text(title, chunk) for title, chunk in rows]  # type: ignore[arg-type]
    return PipelineRun(elapsed, texts, cpu_s, encoder_cpu_s, uploaded)


def raw_encode(texts: list[str], batch_size: int) -> tuple[float, float]:
    """The baseline: the pipeline's own encoder set-up (the same replicas, one thread each, the same passes)
    fed every text at once, with no parsing, queue, database or vector store around it. Returns the seconds and
    the CPU time the encoder spent."""
    from services.core.embedding.dense import Embedder

    settings = Settings()
    embedder = Embedder(
        settings.embedding_model, batch_size, settings.embedding_replicas, processes=settings.embedding_processes
    )
    embedder.embed(texts[: batch_size * embedder.replicas])  # warm-up, as the pipeline's replicas are warm too
    encoders = embedder.process_ids or [os.getpid()]
    cpu_before = cpu_seconds(encoders)
    started = time.perf_counter()
    embedder.embed(texts)
    elapsed = time.perf_counter() - started
    cpu_s = cpu_seconds(encoders) - cpu_before
    embedder.close()
    return elapsed, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--short-docs", type=int, default=600, help="short articles uploaded while ingesting (0: none)")
    parser.add_argument("--only-short", action="store_true", help="skip the mixed-format corpus")
    args = parser.parse_args()
    batch_size = Settings().embedding_batch_size
    # The ingestion-time injection scan embeds every sentence window; STEWARD_INJECTION_SCAN_AT_INGESTION=false
    # measures the pipeline without it.
    print(f"injection_scan_at_ingestion={Settings().injection_scan_at_ingestion}")
    # (files, workers, what the pipeline figures are called, what its encoder baseline is called, uploading)
    runs = []
    if not args.only_short:
        files = corpus(args.docs)
        runs += [(files, 1, "pipeline", "raw_encode", False), (files, 2, "pipeline_2w", "raw_encode_2w", False)]
    if args.short_docs:
        runs.append((short_corpus(args.short_docs), 1, "short_docs_pipeline", "short_docs_raw_encode", True))
    for corpus_files, workers, prefix, baseline, uploading in runs:
        if uploading:
            print(f"short_documents={len(corpus_files)}")
        elif workers == 1:
            print(f"documents={len(corpus_files)}")
            print(f"formats={len({name.rsplit('.', 1)[1] for name, _ in corpus_files})}")
        run = run_pipeline(corpus_files, workers, upload_while_ingesting=uploading)
        seconds, texts = run.seconds, run.texts
        raw_s, raw_cpu_s = raw_encode(texts, batch_size)
        passages = len(texts)
        print(f"{prefix}_passages={passages}")
        print(f"{prefix}_seconds={seconds:.2f}")
        print(f"{prefix}_passages_per_s={passages / seconds:.1f}")
        print(f"{baseline}_passages_per_s={passages / raw_s:.1f}")
        print(f"{prefix}_vs_encode_ratio={raw_s / seconds:.3f}")
        if run.upload_s:
            # No pipeline finishes before its last upload arrives: the ratio the uploads alone would allow.
            print(f"{prefix}_upload_seconds={run.upload_s:.2f}")
            print(f"{prefix}_upload_bound_ratio={raw_s / run.upload_s:.3f}")
        # Where the cores went (CPU seconds, every process of the run). With the encoder in processes of its own,
        # `other` is everything but encoding: uploads, Celery, the database, leases, parsing, the injection scan.
        print(f"{prefix}_cpu_s={run.cpu_s:.1f}")
        print(f"{baseline}_cpu_s={raw_cpu_s:.1f}")
        if run.encoder_cpu_s:
            other_s = run.cpu_s - run.encoder_cpu_s
            print(f"{prefix}_encoder_cpu_s={run.encoder_cpu_s:.1f}")
            print(f"{prefix}_other_cpu_s={other_s:.1f}")
            # The encoder's CPU a passage in the pipeline against the baseline's (small passes, other work between).
            print(f"{prefix}_encoder_cpu_vs_baseline={run.encoder_cpu_s / raw_cpu_s:.2f}")
            # The best ratio these cores allow with that other work, if the encoder were as efficient as alone.
            print(f"{prefix}_ceiling_ratio={raw_cpu_s / (raw_cpu_s + other_s):.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
