"""Extractive answers on the eval set: how often the quoted sentences hold the labelled gold fact.

Three answers in four on the embedded model are extractive (docs/governance.md), so which source sentences are
quoted decides most of `chat_fact_rate`. This asks every answerable question that has labelled facts through the
in-process app with no model listening: the chat path then answers extractively from the same retrieved sources
(the default policy's `llm_fallback` rule), with no vLLM needed, and the run takes minutes.

The questions are split in two by a hash of their id: `tune` is the half any change to the selection may be
fitted on, `held_out` the half it is reported on. Printed (name=value), per split:
- `fact_in_sources_rate_<split>`: the gold fact occurs in a source the answer could quote (the ceiling);
- `extractive_fact_rate_<split>`: the quoted answer holds it;
- `questions_<split>`, `extractive_<split>` (answers that were extractive).

The quotes are ranked by the encoder's int8 copy (`Embedder.embed_approximate`, what chat uses); the same questions
are then asked again with the quotes ranked by the model itself, in the same run on the same index:
`extractive_fact_rate_<split>_exact`, and the CPU each spent ranking an answer's quotes,
`quote_ranking_cpu_ms_int8` / `_exact` and their ratio `quote_ranking_cpu_ratio`.

    python bench/extractive.py [--out eval-report/extractive.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, ROOT, split_of
from bench.cpu import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "eval-report" / "extractive.jsonl")
    args = parser.parse_args()

    from services.core.embedding.dense import Embedder
    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import load_questions
    from services.eval.target import inprocess_target

    questions = [q for q in load_questions(DATASET) if q.answerable and q.facts]
    files = corpus_files(CORPUS)
    # Which encoder ranks the quotes, switched between the two passes; the CPU of each ranking, on its thread.
    ranking: dict[str, Any] = {"encoder": "int8", "cpu_s": 0.0, "calls": 0}
    approximate = Embedder.embed_approximate

    def rank(self: Embedder, texts: Sequence[str]) -> list[list[float]]:
        # This thread, and the replica processes (where the model runs unless embedding_processes is off).
        started = time.thread_time() + cpu_seconds(self.process_ids)
        try:
            return self.embed(texts) if ranking["encoder"] == "exact" else approximate(self, texts)
        finally:
            ranking["cpu_s"] += time.thread_time() + cpu_seconds(self.process_ids) - started
            ranking["calls"] += 1

    Embedder.embed_approximate = rank  # type: ignore[method-assign]
    rows: list[dict[str, Any]] = []
    rates: dict[str, dict[str, dict[str, int]]] = {}
    cpu_ms: dict[str, float] = {}
    with inprocess_target(files, generate=False) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        for encoder in ("int8", "exact"):
            ranking.update(encoder=encoder, cpu_s=0.0, calls=0)
            counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for question in questions:
                row = ask(api.client, question)
                if encoder == "int8":
                    rows.append(row)
                tally = counts[row["split"]]
                tally["questions"] += 1
                tally["extractive"] += row["mode"] == "extractive"
                tally["fact_in_sources"] += row["fact_in_sources"]
                tally["fact_in_answer"] += row["fact_in_answer"]
            rates[encoder] = counts
            cpu_ms[encoder] = float(ranking["cpu_s"]) * 1000 / max(int(ranking["calls"]), 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    for split in ("tune", "held_out"):
        tally = rates["int8"][split]
        print(f"questions_{split}={tally['questions']}")
        print(f"extractive_{split}={tally['extractive']}")
        print(f"fact_in_sources_rate_{split}={tally['fact_in_sources'] / max(tally['questions'], 1):.3f}")
        print(f"extractive_fact_rate_{split}={tally['fact_in_answer'] / max(tally['questions'], 1):.3f}")
        exact = rates["exact"][split]
        print(f"extractive_fact_rate_{split}_exact={exact['fact_in_answer'] / max(exact['questions'], 1):.3f}")
    print(f"quote_ranking_cpu_ms_int8={cpu_ms['int8']:.1f}")
    print(f"quote_ranking_cpu_ms_exact={cpu_ms['exact']:.1f}")
    print(f"quote_ranking_cpu_ratio={cpu_ms['int8'] / max(cpu_ms['exact'], 1e-9):.2f}")
    print(f"# per question: {args.out}", file=sys.stderr)


def ask(client: Any, question: Any) -> dict[str, Any]:
    from services.eval.dataset import contains_fact

    history = question.history_payload() or None
    reply = client.chat(question.question, history)
    # What chat retrieved (the same default mode, rewrite and top_k), all of it: the ceiling.
    found = client.search(question.question, "hybrid", 5, "auto", history)
    sources = " ".join(str(hit.get("text", "")) for hit in found.get("results", []))
    return {
        "id": question.id,
        "split": split_of(question.id),
        "question": question.question,
        "facts": list(question.facts),
        "mode": reply.get("mode"),
        "answer": reply.get("answer", ""),
        "fact_in_sources": bool(contains_fact(sources, question.facts)),
        "fact_in_answer": bool(contains_fact(reply.get("answer", ""), question.facts)),
    }


if __name__ == "__main__":
    main()
