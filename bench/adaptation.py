"""Adapting the encoder to the corpus (issue 17): retrieval quality and speed before and after `steward tune`.

One run on a fresh data dir: the eval corpus is uploaded through the API and ingested by the in-process worker;
then, below HTTP (the retriever every search and chat uses):

- before: nDCG@10 over documents (hybrid, the default mode) of the answerable eval questions, and the share of
  unanswerable / answerable questions the retriever calls not answerable (what makes chat refuse);
- tune: `Adaptation.tune` exactly as `steward tune` runs it: pairs from the indexed passages (no labels),
  fine-tuning, a new collection re-embedded in the background, the gate, the switch when it passes. The
  training sees no eval question. The gate judges by the *tune* half of the eval questions (`bench.common.split_of`),
  as `steward tune --eval` does with a company's own questions; the `_held_out` figures come from the other half,
  seen by neither. The gate's default (held-out documents' sentences) is reported beside it for comparison;
- after: the same figures on whatever is live after the tune (the old generation if the gate refused);
- speed: search p50 (one query at a time, the retriever's full path) before and after, in this run, at this
  corpus's size (not 100k chunks: bench/retrieval.py measures size).

    .venv/bin/python bench/adaptation.py [--max-pairs 6000] [--time-budget 600] [--learning-rate 2e-5]
                                         [--generated-questions N]

`--generated-questions N` starts the embedded vLLM and tunes as `steward tune --generated-questions N` does (the
LLM writes a question about each of N passages); `generated_questions` and `generated_questions_asked` are printed
and `tune_seconds` includes the writing.

Prints `documents`, `passages`, `ndcg10_before`, `ndcg10_after`, `ndcg10_{before,after}_{tune,held_out}`,
`refused_unanswerable{,_after}`, `refused_answerable{,_after}`, `tune_seconds`, `reindex_seconds`,
`switched`, `gate_ndcg10_{before,after}`, `search_p50_ms_before`, `search_p50_ms_after`, `search_p50_ratio`,
and `search_p50_ms_rerank` (nan: no reranker is trained yet).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from bench.common import CORPUS, DATASET, split_of
from services.core.adaptation.gate import GateQuestion, ndcg10
from services.core.adaptation.service import TuneOptions
from services.core.adaptation.training import TrainingConfig
from services.core.runtime import Runtime
from services.core.settings import Settings
from services.eval.dataset import Question, load_questions
from services.server import create_app

ADMIN_KEY = "stw_bench_admin_key_8a1f4c2e9d7b3a60"


def ingest(client: TestClient) -> dict[str, str]:
    """Upload every corpus file (its path as the source); returns source -> document id once all are ready."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    ids = {}
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        source = path.relative_to(CORPUS).as_posix()
        response = client.post(
            "/v1/documents",
            headers=headers,
            files={"file": (path.name, path.read_bytes())},
            data={"groups": "everyone", "source": source},
        )
        assert response.status_code == 202, response.text
        ids[source] = response.json()["id"]
    pending = set(ids.values())
    while pending:
        for document_id in list(pending):
            status = client.get(f"/v1/documents/{document_id}", headers=headers).json()["status"]
            if status in ("ready", "failed"):
                pending.discard(document_id)
        time.sleep(0.5)
    return ids


def figures(runtime: Runtime, questions: list[Question], ids: dict[str, str]) -> dict[str, float]:
    answerable = [q for q in questions if q.answerable and not q.history]
    unanswerable = [q for q in questions if not q.answerable and not q.history]
    scores: dict[str, list[float]] = {"": [], "_tune": [], "_held_out": []}
    refused = {"answerable": 0, "unanswerable": 0}
    latencies = []
    for q in answerable + unanswerable:
        started = time.perf_counter()
        found = runtime.retriever.retrieve(q.question, None, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        if q.answerable:
            score = ndcg10([p.chunk.document_id for p in found.passages], frozenset(ids[s] for s in q.relevant))
            scores[""].append(score)
            scores[f"_{split_of(q.id)}"].append(score)
            refused["answerable"] += not found.answerable
        else:
            refused["unanswerable"] += not found.answerable
    out = {f"ndcg10{k}": statistics.fmean(v) for k, v in scores.items() if v}
    out["refused_answerable"] = refused["answerable"] / max(len(answerable), 1)
    out["refused_unanswerable"] = refused["unanswerable"] / max(len(unanswerable), 1)
    out["search_p50_ms"] = statistics.median(latencies)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-pairs", type=int, default=6000)
    parser.add_argument("--time-budget", type=float, default=600.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=TrainingConfig.learning_rate)
    parser.add_argument("--generated-questions", type=int, default=0, help="passages the LLM writes a question for")
    args = parser.parse_args()
    questions = load_questions(DATASET)
    with tempfile.TemporaryDirectory(prefix="steward-adaptation-") as data_dir, llm_server(args, Path(data_dir)) as llm:
        settings = Settings(data_dir=Path(data_dir), admin_api_key=ADMIN_KEY, llm_manage_server=False)
        if llm is not None:
            settings = settings.model_copy(update={"llm_base_url": llm})
        with TestClient(create_app(settings)) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            ids = ingest(client)
            print(f"documents={len(ids)}")
            print(f"passages={runtime.vector_store.count()}", flush=True)
            before = figures(runtime, questions, ids)
            for name, value in before.items():
                label = name.replace("ndcg10", "ndcg10_before") if name.startswith("ndcg10") else name
                print(f"{label if not name.startswith('search') else 'search_p50_ms_before'}={value:.4f}", flush=True)
            options = TuneOptions(
                training=TrainingConfig(
                    epochs=args.epochs, time_budget_s=args.time_budget, learning_rate=args.learning_rate
                ),
                max_pairs=args.max_pairs,
                generated_questions=args.generated_questions,
            )
            # The gate judges by the tune half of the eval questions; every figure reported below as `_held_out`
            # comes from the other half, which neither the training nor the gate saw.
            gate_questions = [
                GateQuestion(q.question, frozenset(ids[s] for s in q.relevant))
                for q in questions
                if q.answerable and not q.history and split_of(q.id) == "tune"
            ]
            outcome = runtime.adaptation.tune(options, questions=gate_questions)
            report = outcome.report
            print(f"training_steps={report['training_steps']}")
            print(f"training_stopped_early={int(report['training_stopped_early'])}")
            pairs = report.get("held_out_pairs", {})
            print(f"held_out_pairs_ndcg10_before={pairs.get('ndcg10_before', float('nan')):.4f}")
            print(f"held_out_pairs_ndcg10_after={pairs.get('ndcg10_after', float('nan')):.4f}")
            print(f"pairs_training={report['pairs_training']}")
            print(f"generated_questions_asked={report['generated_questions_asked']}")
            print(f"generated_questions={report['generated_questions']}")
            print(f"tune_seconds={report['pairs_seconds'] + report['training_seconds']:.1f}")
            print(f"reindex_seconds={report.get('reindex_seconds', float('nan'))}")
            gate = report.get("gate", {})
            print(f"gate_questions={gate.get('questions', 0)}")
            print(f"gate_source={gate.get('source', '')}")
            print(f"gate_ndcg10_before={gate.get('ndcg10_before', float('nan')):.4f}")
            print(f"gate_ndcg10_after={gate.get('ndcg10_after', float('nan')):.4f}")
            print(f"gate_ndcg10_dense_before={gate.get('ndcg10_dense_before', float('nan')):.4f}")
            print(f"gate_ndcg10_dense_after={gate.get('ndcg10_dense_after', float('nan')):.4f}")
            print(f"switched={int(outcome.state == 'live')}", flush=True)
            # What the gate refused is still measured: the tuned generation is made live for the figures only
            # when it was not, so `ndcg10_after` always reports the tuned encoder.
            after = figures(runtime, questions, ids) if outcome.state == "live" else None
            if after is None:
                after = tuned_figures(runtime, outcome.model, questions, ids)
            for name, value in after.items():
                if name.startswith("ndcg10"):
                    print(f"{name.replace('ndcg10', 'ndcg10_after')}={value:.4f}")
                elif name.startswith("refused"):
                    print(f"{name}_after={value:.4f}")
            print(f"search_p50_ms_after={after['search_p50_ms']:.2f}")
            print(f"search_p50_ratio={after['search_p50_ms'] / before['search_p50_ms']:.3f}")
            print("search_p50_ms_rerank=nan")


@contextlib.contextmanager
def llm_server(args: argparse.Namespace, workdir: Path) -> Iterator[str | None]:
    """The embedded vLLM's base URL while it runs, when the LLM is to write questions; else None."""
    if args.generated_questions <= 0:
        yield None
        return
    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer
    from tests.support.processes import free_port

    cache_dir = default_cache_dir()
    server = VLLMServer(
        build_servable_model(cache_dir), port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log"
    )
    with server:
        yield server.base_url


def tuned_figures(runtime: Runtime, model: str, questions: list[Question], ids: dict[str, str]) -> dict[str, float]:
    """Figures of a generation the gate rejected: built again and made live for this measurement alone."""
    outcome = runtime.adaptation.build(model, questions=[], force=True)
    print(f"forced_generation={outcome.generation_id}")
    return figures(runtime, questions, ids)


if __name__ == "__main__":
    main()
