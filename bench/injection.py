"""Prompt-injection detection on held-out sources: the learned model vs the heuristics. Prints name=value lines.

    .venv/bin/python bench/injection.py [--by-source] [--split eval|tune|train]    # or: make bench-injection

The held-out split (services/eval/injection_data.py) comes from other packages than the model was trained and
tuned on: attacks from spikee 0.9.2, bastioncorpus 0.6.0, AgentDojo 0.1.35 and jailbreak-corpus-mini 0.1.0;
benign questions from tests/data/eval/questions.jsonl, spikee's false-positive set and bastioncorpus's benign
inputs; documents are chunks of held-out company files and package descriptions, AgentDojo's tool outputs and
bastioncorpus's tool outputs, with and without an injection spliced in. The corpora wheels are downloaded into
~/.cache/steward/injection-corpora on first use (never copied into this repository); embeddings (of texts and of
every window of every document) are cached there.

Lines: injection_recall_questions / injection_fpr_questions (the question head at its tuned threshold);
injection_recall_documents / injection_fpr_documents (the windowed document scorer, `score_documents`, which
ingestion runs, at the document_windows threshold); injection_recall_chunk_vectors / _fpr_chunk_vectors (the
one-vector document head, `detect(kind="document")`, what retrieval runs on a chunk without a stored score);
injection_heuristic_recall_/_fpr_{...} (services/core/policy/injection.py alone at 0.5); the counts;
injection_latency_ms_per_question, _per_document (one vector) and _per_document_windows (the model's added cost
given the embeddings; embedding a chunk's windows is not included). `--split tune` prints the in-sample tuning
figures instead. Every run with the default split is a look at the held-out figures: record it in
docs/governance.md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from services.eval.injection import evaluate, load_dataset
from services.eval.injection_data import DEFAULT_CACHE, EVAL, SEED, TRAIN, TUNE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=(EVAL, TUNE, TRAIN), default=EVAL)
    parser.add_argument("--by-source", action="store_true", help="also print the rate of every source")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    figures = evaluate(dataset=load_dataset(args.cache, args.seed), split=args.split, by_source=args.by_source)
    print(f"split={args.split}")
    for name, value in figures.items():
        print(f"{name}={value:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
