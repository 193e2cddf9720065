"""Fine-tuning the bi-encoder on the corpus's own pairs, on the CPU.

Loss: multiple negatives ranking (in-batch negatives, scale 20) with each pair's hard negative as an extra
column; another passage of the same document is masked out, it is no negative. AdamW at a small learning
rate and one epoch: the shipped encoder is a good start, and the pairs are noisy, so the model is nudged,
not retrained. Training stops at `time_budget_s` (what was learned so far is kept)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.core.adaptation.pairs import TrainingPair


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    scale: float = 20.0
    seed: int = 7
    time_budget_s: float = 600.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingResult:
    steps: int
    pairs: int
    seconds: float
    stopped_early: bool
    final_loss: float


def fine_tune(
    base_path: str,
    pairs: Sequence[TrainingPair],
    out_dir: Path,
    config: TrainingConfig,
    progress: Callable[[float], None] | None = None,
) -> TrainingResult:
    """Train a copy of the encoder at `base_path` and save it (sentence-transformers format) in `out_dir`."""
    import torch
    from sentence_transformers import SentenceTransformer

    if not pairs:
        raise ValueError("no training pairs: the index holds no passage with full sentences")
    torch.manual_seed(config.seed)
    order = list(pairs)
    random.Random(config.seed).shuffle(order)
    model = SentenceTransformer(base_path, device="cpu")
    model.max_seq_length = config.max_seq_length
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    total = config.epochs * ((len(order) + config.batch_size - 1) // config.batch_size)
    started, steps, loss_value, stopped = time.perf_counter(), 0, float("nan"), False
    model.train()
    for _ in range(config.epochs):
        for start in range(0, len(order), config.batch_size):
            if time.perf_counter() - started > config.time_budget_s:
                stopped = True
                break
            loss_value = _step(model, optimizer, order[start : start + config.batch_size], config.scale)
            steps += 1
            if progress is not None:
                progress(steps / total)
        if stopped:
            break
    model.eval()
    model.save(str(out_dir))
    return TrainingResult(steps, len(order), time.perf_counter() - started, stopped, loss_value)


def _step(model: Any, optimizer: Any, group: Sequence[TrainingPair], scale: float) -> float:
    import torch
    from torch.nn.functional import cross_entropy, normalize

    def encode(texts: list[str]) -> torch.Tensor:
        return normalize(model(model.preprocess(texts))["sentence_embedding"], dim=-1)

    queries = encode([p.query for p in group])
    negatives = [p.negative for p in group if p.negative]
    targets = encode([p.positive for p in group] + negatives)
    logits = queries @ targets.T * scale
    # A passage of the query's own document (other than its positive) is no negative; hard negatives are
    # always of other documents.
    n = len(group)
    same = torch.zeros_like(logits, dtype=torch.bool)
    for i, a in enumerate(group):
        for j, b in enumerate(group):
            same[i, j] = i != j and a.document_id == b.document_id
    loss = cross_entropy(logits.masked_fill(same, -1e4), torch.arange(n))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())
