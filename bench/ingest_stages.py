"""Where ingestion time goes: wall time per pipeline stage, summed over worker threads, for one run.

The diagnosis behind the embedding batcher's design (docs/ingestion.md, "Speed"): if worker threads spend
most of their time in `batcher_wait` while `encode_pass` replica-seconds are well under 2 x the run time,
the encoder is being starved, not saturated. Prints one `stage=… n=… total_s=… mean_ms=…` line per stage.

    python bench/ingest_stages.py [--docs 120] [--short]

`--short`: bench/ingest.py's short articles, uploaded through the API while the worker ingests.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # bench/ingest.py: the same corpus and pipeline run

from ingestion import lease, pipeline, preparation
from services.core.embedding import batcher
from services.core.embedding import dense as embedder
from services.core.policy import screening
from services.core.vectorstore import edge

totals: dict[str, float] = collections.defaultdict(float)
counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def timed(owner: Any, name: str, stage: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with _lock:
                totals[stage] += time.perf_counter() - started
                counts[stage] += 1

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--short", action="store_true", help="short articles uploaded while ingesting")
    args = parser.parse_args()
    timed(embedder.Embedder, "encode_pass", "encode_pass")
    timed(batcher.EmbeddingBatcher, "embed", "batcher_wait")
    timed(lease.Leases, "claim", "claim")
    timed(lease.Leases, "renew", "renew")
    timed(preparation.Preparer, "parse", "parse")
    timed(preparation.Preparer, "chunk", "chunk")
    timed(edge.QdrantEdgeStore, "upsert", "upsert")
    timed(edge.QdrantEdgeStore, "document_points", "document_points")
    timed(pipeline.Ingestor, "_finish", "finish")
    timed(pipeline.Ingestor, "ingest", "ingest_task")
    timed(edge.QdrantEdgeStore, "set_document_payload", "set_document_payload")
    timed(edge.QdrantEdgeStore, "set_payloads", "set_payloads")
    timed(edge.QdrantEdgeStore, "delete_points", "delete_points")
    timed(screening.InjectionScanner, "__call__", "injection_scan")
    files = ingest.short_corpus(args.docs) if args.short else ingest.corpus(args.docs)
    seconds, texts = ingest.run_pipeline(files, workers=1, upload_while_ingesting=args.short)
    print(f"documents={args.docs}")
    print(f"passages={len(texts)}")
    print(f"run_s={seconds:.1f}")
    for stage in sorted(totals, key=lambda s: -totals[s]):
        mean_ms = 1000 * totals[stage] / counts[stage]
        print(f"stage={stage} n={counts[stage]} total_s={totals[stage]:.1f} mean_ms={mean_ms:.1f}")


if __name__ == "__main__":
    main()
