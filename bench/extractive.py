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

    python bench/extractive.py [--out eval-report/extractive.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, ROOT, split_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "eval-report" / "extractive.jsonl")
    args = parser.parse_args()

    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import contains_fact, load_questions
    from services.eval.target import inprocess_target

    questions = [q for q in load_questions(DATASET) if q.answerable and q.facts]
    files = corpus_files(CORPUS)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows: list[dict[str, Any]] = []
    with inprocess_target(files, generate=False) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        for question in questions:
            history = question.history_payload() or None
            reply = api.client.chat(question.question, history)
            # What chat retrieved (the same default mode, rewrite and top_k), all of it: the ceiling.
            found = api.client.search(question.question, "hybrid", 5, "auto", history)
            sources = " ".join(str(hit.get("text", "")) for hit in found.get("results", []))
            split = split_of(question.id)
            row = {
                "id": question.id,
                "split": split,
                "question": question.question,
                "facts": list(question.facts),
                "mode": reply.get("mode"),
                "answer": reply.get("answer", ""),
                "fact_in_sources": bool(contains_fact(sources, question.facts)),
                "fact_in_answer": bool(contains_fact(reply.get("answer", ""), question.facts)),
            }
            rows.append(row)
            tally = counts[split]
            tally["questions"] += 1
            tally["extractive"] += row["mode"] == "extractive"
            tally["fact_in_sources"] += row["fact_in_sources"]
            tally["fact_in_answer"] += row["fact_in_answer"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    for split in ("tune", "held_out"):
        tally = counts[split]
        print(f"questions_{split}={tally['questions']}")
        print(f"extractive_{split}={tally['extractive']}")
        print(f"fact_in_sources_rate_{split}={tally['fact_in_sources'] / max(tally['questions'], 1):.3f}")
        print(f"extractive_fact_rate_{split}={tally['fact_in_answer'] / max(tally['questions'], 1):.3f}")
    print(f"# per question: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
