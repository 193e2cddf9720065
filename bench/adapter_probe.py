"""A second probe for issue 17: a linear query adapter trained on the corpus's own text, no labels.

`bench/tune_probe.py` fine-tuned the whole encoder and made dense retrieval worse. This probe keeps the passage
vectors as they are (so nothing would need re-indexing) and learns only a 384 x 384 map applied to the query
vector, starting from the identity, in seconds on the CPU:

- passages: as `tune_probe.corpus_passages` (the eval corpus parsed and chunked as ingestion does);
- synthetic queries, from the passages alone: up to 2 sentences of each passage (the inverse cloze task, the
  passage embedded with the sentence cut out as its target), 4 of its 12 rarest words (a keyword query), and
  its heading;
- loss: softmax over *every* passage of the corpus (the real retrieval task, not in-batch negatives), passages
  of the query's own document masked, temperature 0.05, plus `lam * ||W - I||^2`;
- choice of `lam`: the best mean reciprocal rank on a fifth of the synthetic queries held out from training;
- score: dense nDCG@10 over documents on the answerable eval questions (even and odd ids apart as `_a`, `_b`),
  before and with the chosen adapter. No eval question is used for training or for any choice.

    .venv/bin/python bench/adapter_probe.py

Prints `passages`, `queries`, `ndcg10_dense_before{,_a,_b}`, per `lam` the held-out `val_mrr_lam_*`, the chosen
`lam`, `ndcg10_dense_adapter{,_a,_b}` and `tune_seconds`.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from sentence_transformers import SentenceTransformer
from tune_probe import EVAL, MODEL, Passage, _ndcg, corpus_passages

from services.core.answers.grounding import split_sentences
from services.core.embedding.dense import resolve_model_path

LAMBDAS = (0.0, 0.1, 1.0)
TEMPERATURE = 0.05
STEPS = 300
STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "and",
        "or",
        "in",
        "on",
        "for",
        "is",
        "are",
        "be",
        "with",
        "by",
        "at",
        "as",
        "it",
        "this",
        "that",
        "from",
        "your",
        "you",
        "we",
        "our",
        "can",
        "will",
        "may",
        "must",
        "not",
        "if",
        "any",
        "all",
    ]
)


def synthetic_queries(passages: list[Passage], rng: random.Random) -> tuple[list[str], list[str], list[int]]:
    """(queries, their target texts, the index of each query's passage)."""
    words = [re.findall(r"[a-z0-9]+", text.lower()) for _, text in passages]
    document_frequency = collections.Counter(w for ws in words for w in set(ws))
    idf = {w: math.log(len(passages) / c) for w, c in document_frequency.items()}
    queries, targets, owners = [], [], []
    for index, (_, text) in enumerate(passages):
        prefix, _, body = text.partition("\n")
        sentences = [s for s in split_sentences(body) if len(s.split()) >= 5]
        for sentence in rng.sample(sentences, min(2, len(sentences))):
            queries.append(sentence)
            targets.append(f"{prefix}\n{body.replace(sentence, ' ')}")
            owners.append(index)
        rare = sorted(
            (w for w in dict.fromkeys(words[index]) if w not in STOPWORDS and len(w) > 2), key=lambda w: -idf[w]
        )
        if len(rare) >= 4:
            queries.append(" ".join(rng.sample(rare[:12], 4)))
            targets.append(text)
            owners.append(index)
        heading = prefix.split(" > ")[-1].split(" / ")[-1]
        if heading:
            queries.append(heading)
            targets.append(text)
            owners.append(index)
    return queries, targets, owners


def main() -> None:
    rng = random.Random(7)
    torch.manual_seed(0)
    passages = corpus_passages()
    model = SentenceTransformer(resolve_model_path(MODEL), device="cpu")

    def encode(texts: list[str]) -> torch.Tensor:
        return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_tensor=True).clone()

    index = encode([t for _, t in passages])
    questions = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines() if line.strip()]
    answerable = [q for q in questions if q.get("answerable") and q.get("relevant")]
    splits: dict[str, list[dict[str, Any]]] = {
        "": answerable,
        "_a": [q for q in answerable if int(q["id"][1:]) % 2 == 0],
        "_b": [q for q in answerable if int(q["id"][1:]) % 2 == 1],
    }
    asked = {name: encode([q["question"] for q in split]) for name, split in splits.items()}

    def ndcg10(adapter: torch.Tensor) -> dict[str, float]:
        figures = {}
        for name, split in splits.items():
            scores = torch.nn.functional.normalize(asked[name] @ adapter.T, dim=-1) @ index.T
            figures[name] = sum(_ndcg(row, q, passages) for row, q in zip(scores, split, strict=True)) / len(split)
        return figures

    identity = torch.eye(index.shape[1])
    print(f"passages={len(passages)}")
    for name, value in ndcg10(identity).items():
        print(f"ndcg10_dense_before{name}={value:.4f}", flush=True)

    started = time.perf_counter()
    queries, targets, owners = synthetic_queries(passages, rng)
    print(f"queries={len(queries)}", flush=True)
    query_vectors, target_vectors = encode(queries), encode(targets)
    owner = torch.tensor(owners)
    documents = {source: n for n, source in enumerate(sorted({s for s, _ in passages}))}
    document_of = torch.tensor([documents[s] for s, _ in passages])
    # Other passages of the query's own document are not negatives; its own passage is scored as the target.
    masked = document_of[owner][:, None] == document_of[None, :]
    order = torch.randperm(len(queries))
    held_out, train = order[: len(queries) // 5], order[len(queries) // 5 :]

    def scores(adapter: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        projected = torch.nn.functional.normalize(query_vectors[rows] @ adapter.T, dim=-1)
        found = projected @ index.T
        found[torch.arange(len(rows)), owner[rows]] = (projected * target_vectors[rows]).sum(-1)
        return found.masked_fill(masked[rows] & (torch.arange(len(passages))[None, :] != owner[rows][:, None]), -1e4)

    def mean_reciprocal_rank(adapter: torch.Tensor) -> float:
        found = scores(adapter, held_out)
        rank = (found > found[torch.arange(len(held_out)), owner[held_out]][:, None]).sum(1) + 1
        return float((1 / rank.float()).mean())

    adapters = {}
    for lam in LAMBDAS:
        adapter = identity.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([adapter], lr=1e-3)
        for _ in range(STEPS):
            rows = train[torch.randint(len(train), (256,))]
            loss = torch.nn.functional.cross_entropy(scores(adapter, rows) / TEMPERATURE, owner[rows])
            loss = loss + lam * ((adapter - identity) ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        adapters[lam] = adapter.detach()
        print(f"val_mrr_lam_{lam}={mean_reciprocal_rank(adapters[lam]):.4f}", flush=True)
    print(f"val_mrr_identity={mean_reciprocal_rank(identity):.4f}")
    chosen = max(LAMBDAS, key=lambda lam: mean_reciprocal_rank(adapters[lam]))
    print(f"tune_seconds={time.perf_counter() - started:.1f}")
    print(f"lam={chosen}")
    for name, value in ndcg10(adapters[chosen]).items():
        print(f"ndcg10_dense_adapter{name}={value:.4f}", flush=True)


if __name__ == "__main__":
    main()
