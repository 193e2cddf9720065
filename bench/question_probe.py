"""Issue 17's last untried recipe: fine-tune the encoder on questions the served LLM writes about the corpus.

The earlier probes trained on the corpus's own sentences (a sentence -> its passage, a heading -> its section) and
real questions ranked worse every time (docs/adaptation.md): statements are not questions. Here the embedded LLM
(Gemma 3 270M, the model `make run` serves) writes one question per passage with the adapter `steward tune
--generated-questions` uses (services/core/adaptation/questions.py: few-shot, from two hand-written examples about
an invented company, no eval question or document), and the shipped MiniLM is fine-tuned on
(question -> passage) pairs with in-batch negatives, as bench/tune_probe.py does. Dense nDCG@10 over documents is
scored before and after on the eval set's tune and held-out halves (bench/common.py `split_of`); no eval question
is used for training or for any choice made here.

    .venv/bin/python bench/question_probe.py [--questions-file F] [--epochs 1] [--learning-rate 2e-5]

The questions are generated once into `--questions-file` (default /tmp/steward-generated-questions.jsonl) and
read from there on later runs, so the training recipe can be varied without starting vLLM again.

Prints `passages`, `kept` (passages with a question that passes `questions.usable`),
`generate_seconds`, `ndcg10_dense_before_{all,tune,held_out}`, `tune_seconds`, `ndcg10_dense_after_{...}`, and
10 sample questions on stderr.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench.common import split_of
from bench.tune_probe import (
    Passage,
    answerable_questions,
    corpus_passages,
    train_and_score,
    training_parser,
)
from services.core.adaptation.pairs import Passage as StoredPassage
from services.core.adaptation.questions import QuestionWriter, usable
from tests.support.processes import free_port


def generated_questions(path: Path, passages: list[Passage], concurrency: int) -> list[dict[str, Any]]:
    """One row per passage the model wrote a usable question for (read from `path` when it exists)."""
    if path.exists():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [row for row in rows if usable(row["question"], passages[row["passage"]][1])]
    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    cache_dir = default_cache_dir()
    workdir = Path(tempfile.mkdtemp(prefix="steward-question-probe-"))
    server = VLLMServer(
        build_servable_model(cache_dir), port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log"
    )
    asked = [StoredPassage(str(n), source, "", "", text) for n, (source, text) in enumerate(passages)]
    started = time.perf_counter()
    with server:
        writer = QuestionWriter(
            base_url=server.base_url, model=server.served_model_name, style="base", concurrency=concurrency
        )
        written = writer.write(asked)
    print(f"generate_seconds={time.perf_counter() - started:.1f}", flush=True)
    rows = [{"source": passages[int(n)][0], "passage": int(n), "question": q} for n, q in sorted(written.items())]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return rows


def main() -> None:
    parser = training_parser(__doc__)
    parser.add_argument("--questions-file", type=Path, default=Path("/tmp/steward-generated-questions.jsonl"))
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)

    passages = corpus_passages()
    print(f"passages={len(passages)}", flush=True)
    kept = generated_questions(args.questions_file, passages, args.concurrency)
    print(f"kept={len(kept)}", flush=True)
    for row in rng.sample(kept, min(10, len(kept))):
        print(f"# {row['source']}: {row['question']}", file=sys.stderr)

    answerable = answerable_questions()
    splits = {
        "_all": answerable,
        "_tune": [q for q in answerable if split_of(q["id"]) == "tune"],
        "_held_out": [q for q in answerable if split_of(q["id"]) == "held_out"],
    }
    pairs = [(row["question"], passages[row["passage"]][1], row["source"]) for row in kept]
    rng.shuffle(pairs)
    train_and_score(args, passages, splits, pairs)


if __name__ == "__main__":
    main()
