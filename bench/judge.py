"""Can the served model tell an answerable question from an unanswerable one? A reader check for the refusal goal.

Issue 5 asks that ≥ 80% of unanswerable questions be refused while ≤ 5% of answerable ones are. Similarity and
term coverage get 42% (docs/retrieval.md): the eval set's unanswerable questions are near misses whose passages
are as similar as real answers, so what is left needs a reader that checks whether the passages hold the
answer. This bench asks the served model exactly that, for every non-follow-up question of the eval set, with
the two best hybrid passages, and scores its confidence as log P("Yes") - log P("No") on the first answer token.

It prints `name=value`: the judge's ROC AUC and the share of unanswerable questions it would refuse at ≤ 5%
false refusals, next to the same two figures for the top hit's cosine similarity measured in the same run (the
baseline). An AUC near 0.5 is a coin toss. Point `--llm-url` at a stronger OpenAI-compatible server (the GPU
profile's Gemma 4) to see whether a judge stage would be worth building there.

    python bench/judge.py [--llm-url http://127.0.0.1:8001/v1 --model steward-gemma] [--passages 2]

Without `--llm-url` it builds (once) and starts the embedded vLLM on a free port, as `steward serve` does.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx

from services.core.settings import Settings
from services.eval.corpus import corpus_files, ingest_corpus
from services.eval.dataset import load_questions
from services.eval.target import inprocess_target

MAX_FALSE_REFUSALS = 0.05
PASSAGE_CHARS = 700
# The first answer token is read from this many alternatives; "Yes"/"No" outside them count as very unlikely.
TOP_LOGPROBS = 20
UNLIKELY = -30.0


def judge_prompt(question: str, passages: Sequence[str]) -> list[dict[str, str]]:
    text = "\n\n".join(p[:PASSAGE_CHARS] for p in passages)
    ask = f"Text:\n{text}\n\nQuestion: {question}\nDoes the text contain the answer to the question? Answer Yes or No."
    return [{"role": "user", "content": ask}, {"role": "assistant", "content": "Answer:"}]


def yes_margin(http: httpx.Client, model: str, messages: list[dict[str, str]]) -> float:
    """log P(Yes) - log P(No) for the model's next token."""
    response = http.post(
        "/chat/completions",
        json={
            "model": model,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
            "continue_final_message": True,
            "add_generation_prompt": False,
        },
    )
    response.raise_for_status()
    alternatives = response.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]

    def log_p(word: str) -> float:
        mass = sum(math.exp(a["logprob"]) for a in alternatives if a["token"].strip().lower() == word)
        return math.log(mass) if mass > 0 else UNLIKELY

    return log_p("yes") - log_p("no")


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(score of an answerable question > score of an unanswerable one), ties counting half."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return sum(pairs) / len(pairs)


def refusal_at_cap(positives: Sequence[float], negatives: Sequence[float], cap: float = MAX_FALSE_REFUSALS) -> float:
    """Share of unanswerable questions scored below the strictest threshold that refuses at most `cap` of the
    answerable ones."""
    allowed = math.floor(cap * len(positives))
    threshold = sorted(positives)[allowed]  # refusing below this refuses exactly `allowed` answerable ones
    return sum(n < threshold for n in negatives) / len(negatives)


@contextlib.contextmanager
def llm_endpoint(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer, free_port

    settings = Settings()
    server = VLLMServer(
        model_dir=build_servable_model(settings.cache_dir),
        port=free_port(),
        served_model_name=settings.llm_model,
        cache_dir=settings.cache_dir,
    )
    server.start()
    try:
        server.wait_ready(settings.llm_start_timeout_s)
        yield server.base_url
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("tests/data/eval/questions.jsonl"))
    parser.add_argument("--llm-url", help="an OpenAI-compatible base URL (default: start the embedded vLLM)")
    parser.add_argument("--model", default=Settings().llm_model)
    parser.add_argument("--passages", type=int, default=2)
    args = parser.parse_args()
    # Follow-ups are left out: the judge would need the conversation, and they are all answerable.
    questions = [q for q in load_questions(args.dataset) if not q.history]
    files = corpus_files(args.dataset.parent / "corpus")
    judged: dict[bool, list[float]] = {True: [], False: []}
    similar: dict[bool, list[float]] = {True: [], False: []}
    with (
        llm_endpoint(args.llm_url) as url,
        httpx.Client(base_url=url, timeout=120) as http,
        inprocess_target(files, generate=False) as api,
    ):
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        assert api.runtime is not None
        for q in questions:
            found = api.runtime.retriever.retrieve(q.question, None, args.passages, "hybrid")
            passages = [p.chunk.text for p in found.passages]
            judged[q.answerable].append(yes_margin(http, args.model, judge_prompt(q.question, passages)))
            similar[q.answerable].append(found.best_similarity or 0.0)
    print(f"questions={len(questions)}")
    print(f"answerable={len(judged[True])}")
    print(f"unanswerable={len(judged[False])}")
    for name, scores in (("judge", judged), ("similarity", similar)):
        print(f"{name}_auc={auc(scores[True], scores[False]):.3f}")
        print(f"{name}_refusal_at_5pct_false_refusals={refusal_at_cap(scores[True], scores[False]):.3f}")


if __name__ == "__main__":
    main()
