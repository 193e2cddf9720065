"""A reader trained on the corpus alone: does a passage state what a question asks? (issue 17, parts 1 and 2).

A cross-encoder, started from the shipped MiniLM weights (a fresh one-logit head), trained on examples made from
the indexed passages with no labels and no eval question:
- answerable: a query made from one of the passage's sentences (its content words, some dropped, in a question's
  frame), with the passage;
- near miss: the same query with one specific term (a name, code, year) or its rarest word swapped for one of
  the same kind from another document — another office, another year, another form — with the same passage;
- off target: the query with a passage of another document that BM25 ranks high for it.

Then, on the eval set's single-turn questions, the reader scores the passages retrieval gives a chat answer:
- answerability: the best passage's score; the threshold is picked on the tune half (most unanswerable questions
  refused with <= 5% of answerable ones refused, on top of what the engine refuses already) and reported on the
  held-out half;
- reranking: the top 20 candidates reordered by the reader (blended with the hybrid rank), nDCG@10 before and
  after on both halves, and the time to score 20 passages.

    .venv/bin/python bench/reader_probe.py [--examples 3600] [--time-budget 480]
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, split_of
from bench.lexical import STOP as _STOP
from services.core.adaptation.gate import ndcg10
from services.core.retrieval.answerability import specific_terms

_FRAMES = ("What {}?", "How {}?", "When {}?", "Who {}?", "Where {}?", "Is {}?", "Can I {}?", "Do we {}?", "{}")
_TOKEN = re.compile(r"[A-Za-z0-9€$£][A-Za-z0-9€$£'./-]*")


def _kind(term: str) -> str:
    has_digit, has_alpha = any(c.isdigit() for c in term), any(c.isalpha() for c in term)
    return "code" if has_digit and has_alpha else "number" if has_digit else "name"


class Examples:
    """Training examples (query, passage text, label) from the passages' own sentences."""

    def __init__(self, passages, bm25, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
        from services.core.adaptation.pairs import sentences

        self.passages = [p for p in passages if sentences(p.text)]
        self.by_id = {p.id: p for p in passages}
        self.sentences = sentences
        self.bm25 = bm25
        self.rng = rng
        docs = {p.document_id for p in passages}
        self.df = Counter(w for d in docs for w in self._doc_words(d, passages))
        self.n = len(docs)
        self.terms: dict[str, dict[str, set[str]]] = {}  # kind -> term -> documents
        for p in passages:
            for t in specific_terms(p.text):
                self.terms.setdefault(_kind(t), {}).setdefault(t, set()).add(p.document_id)
        self.rare = [w for w, n in self.df.items() if n <= 2 and w.isalpha() and len(w) >= 5]

    @staticmethod
    def _doc_words(document_id: str, passages) -> set[str]:  # type: ignore[no-untyped-def]
        return {w.lower() for p in passages if p.document_id == document_id for w in _TOKEN.findall(p.text)}

    def query(self, sentence: str) -> str:
        tokens = [t.strip(".,;:") for t in _TOKEN.findall(sentence)]
        terms = set(specific_terms(sentence))
        keep = [t for t in tokens if t.lower() not in _STOP and (t in terms or self.rng.random() < 0.7)]
        if self.rng.random() < 0.3 or len(keep) < 2:
            return sentence
        return self.rng.choice(_FRAMES).format(" ".join(keep[:14]))

    def near_miss(self, query: str, document_id: str) -> str | None:
        here = [t for t in specific_terms(query) if t in self.terms.get(_kind(t), {})]
        if here:
            old = self.rng.choice(here)
            pool = [t for t, where in self.terms[_kind(old)].items() if document_id not in where and t != old]
        else:
            words = [t for t in _TOKEN.findall(query) if t.isalpha() and t.lower() not in _STOP]
            if not words:
                return None
            old = max(words, key=lambda w: (math.log((self.n + 1) / (self.df.get(w.lower(), 0) + 0.5)), w))
            pool = self.rare
        if not pool:
            return None
        new = self.rng.choice(pool)
        return query.replace(old, new, 1)

    def off_target(self, query: str, document_id: str) -> str | None:
        others = [self.by_id[i] for i in self.bm25(query, 20) if i in self.by_id]
        others = [p for p in others if p.document_id != document_id][1:12]
        return _passage_text(self.rng.choice(others)) if others else None

    def make(self, count: int) -> list[tuple[str, str, float]]:
        out: list[tuple[str, str, float]] = []
        while len(out) < count:
            passage = self.rng.choice(self.passages)
            query = self.query(self.rng.choice(self.sentences(passage.text)))
            text = _passage_text(passage)
            out.append((query, text, 1.0))
            miss = self.near_miss(query, passage.document_id)
            if miss:
                out.append((miss, text, 0.0))
            off = self.off_target(query, passage.document_id)
            if off:
                out.append((query, off, 0.0))
        self.rng.shuffle(out)
        return out[:count]


def _passage_text(p) -> str:  # type: ignore[no-untyped-def]
    return f"{p.title} > {p.heading}\n{p.text}" if p.heading else f"{p.title}\n{p.text}"


class Reader:
    def __init__(self, base: str, *, layers: int, max_length: int) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(7)
        self.torch = torch
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
        if layers:  # the first layers only: a smaller, faster reader
            self.model.bert.encoder.layer = self.model.bert.encoder.layer[:layers]

    def train(self, examples: list[tuple[str, str, float]], *, lr: float, batch: int, budget_s: float) -> dict:
        torch = self.torch
        self.model.train()
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)
        steps = math.ceil(len(examples) / batch)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, steps // 10)))
        loss_fn = torch.nn.BCEWithLogitsLoss()
        started, done, losses = time.perf_counter(), 0, []
        for start in range(0, len(examples), batch):
            group = examples[start : start + batch]
            inputs = self.tokenizer(
                [q for q, _, _ in group],
                [p for _, p, _ in group],
                truncation="only_second",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            logits = self.model(**inputs).logits.squeeze(-1)
            loss = loss_fn(logits, torch.tensor([y for _, _, y in group]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            done += 1
            if time.perf_counter() - started > budget_s:
                break
        self.model.eval()
        return {
            "steps": done,
            "of_steps": steps,
            "seconds": time.perf_counter() - started,
            "loss_last50": statistics.fmean(losses[-50:]),
        }

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0)
        with self.torch.inference_mode():
            inputs = self.tokenizer(
                [query] * len(passages),
                passages,
                truncation="only_second",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            return self.model(**inputs).logits.squeeze(-1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=3600)
    parser.add_argument("--time-budget", type=float, default=480)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-false", type=float, default=0.05)
    parser.add_argument("--layers", type=int, default=0, help="keep the first N transformer layers (0: all 6)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens of question and passage together")
    parser.add_argument("--blend", type=float, default=0.5, help="weight of the reader's rank in the reranking")
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from services.core.adaptation.service import stored_passages
    from services.core.embedding.dense import resolve_model_path
    from services.core.vectorstore.port import SearchQuery
    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import load_questions
    from services.eval.target import inprocess_target

    questions = [q for q in load_questions(DATASET) if not q.history]
    files = corpus_files(CORPUS)
    rng = random.Random(args.seed)
    with inprocess_target(files, generate=False) as api:
        ids = ingest_corpus(api.client, files, show_progress=False).document_ids
        api.mark_ingested()
        runtime = api.runtime
        assert runtime is not None
        store, sparse = runtime.vector_store, runtime.sparse_encoder

        def bm25(query: str, limit: int) -> list[str]:
            vector = sparse.encode_query(query)
            if not vector.indices:
                return []
            hits = store.search(SearchQuery(limit=limit, allowed_groups=None, sparse=vector, mode="sparse"))
            return [h.id for h in hits]

        passages = stored_passages(store)
        examples = Examples(passages, bm25, rng).make(args.examples)
        print(f"examples={len(examples)}")
        print(f"examples_answerable_share={sum(y for _, _, y in examples) / len(examples):.3f}")
        reader = Reader(
            resolve_model_path(runtime.settings.embedding_model), layers=args.layers, max_length=args.max_length
        )
        report = reader.train(examples, lr=args.learning_rate, batch=args.batch, budget_s=args.time_budget)
        for key, value in report.items():
            print(f"train_{key}={value:.4g}" if isinstance(value, float) else f"train_{key}={value}")

        retriever = runtime.retriever
        rows = []
        latencies = []
        for q in questions:
            found = retriever.retrieve(q.question, None, 20)
            texts = [_passage_text(p.chunk) for p in found.passages]
            started = time.perf_counter()
            scores = reader.score(q.question, texts)
            latencies.append((time.perf_counter() - started) * 1000)
            shown = scores[: retriever.config.answer_top_k]
            rows.append(
                {
                    "split": split_of(q.id),
                    "answerable": q.answerable,
                    "engine": found.answerable,
                    "reader": float(shown.max()) if len(shown) else -99.0,
                    "docs": [p.chunk.document_id for p in found.passages],
                    "scores": scores,
                    "relevant": frozenset(ids[s] for s in q.relevant),
                }
            )

    def refusals(group: list[dict], threshold: float) -> tuple[float, float]:
        refuse = [(not r["engine"]) or r["reader"] < threshold for r in group]
        u = [x for x, r in zip(refuse, group, strict=True) if not r["answerable"]]
        a = [x for x, r in zip(refuse, group, strict=True) if r["answerable"]]
        return statistics.fmean(u), statistics.fmean(a)

    tune = [r for r in rows if r["split"] == "tune"]
    held = [r for r in rows if r["split"] == "held_out"]
    for name, group in (("tune", tune), ("held_out", held)):
        print(f"{name}_reader_auc={roc_auc_score([r['answerable'] for r in group], [r['reader'] for r in group]):.3f}")
    best_t, best = -99.0, refusals(tune, -99.0)
    for t in sorted({r["reader"] for r in tune}):
        u, a = refusals(tune, t)
        if a <= args.max_false + 1e-9 and u > best[0]:
            best_t, best = t, (u, a)
    print(f"threshold={best_t:.4f}")
    print(f"tune_engine_refused_unanswerable={refusals(tune, -99.0)[0]:.3f}")
    print(f"tune_refused_unanswerable={best[0]:.3f}")
    print(f"tune_refused_answerable={best[1]:.3f}")
    engine_u, engine_a = refusals(held, -99.0)
    u, a = refusals(held, best_t)
    print(f"held_out_engine_refused_unanswerable={engine_u:.3f}")
    print(f"held_out_engine_refused_answerable={engine_a:.3f}")
    print(f"held_out_refused_unanswerable={u:.3f}")
    print(f"held_out_refused_answerable={a:.3f}")
    print(f"held_out_questions={len(held)}")

    for name, group in (("tune", tune), ("held_out", held)):
        before, after = [], []
        for r in group:
            if not r["answerable"] or not r["relevant"]:
                continue
            docs, scores = r["docs"], r["scores"]
            before.append(ndcg10(docs, r["relevant"]))
            order = np.argsort(-scores, kind="stable")
            reader_rank = np.empty(len(docs))
            reader_rank[order] = np.arange(len(docs))
            blended = args.blend * reader_rank + (1 - args.blend) * np.arange(len(docs))
            after.append(ndcg10([docs[i] for i in np.argsort(blended, kind="stable")], r["relevant"]))
        print(f"{name}_ndcg10_hybrid={statistics.fmean(before):.4f}")
        print(f"{name}_ndcg10_reranked={statistics.fmean(after):.4f}")
    print(f"rerank20_p50_ms={statistics.median(latencies):.1f}")


if __name__ == "__main__":
    main()
