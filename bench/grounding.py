"""Grounding on the eval set: unsupported sentences that reach users without and with the check.

Two phases. `collect` asks every question of tests/data/eval/questions.jsonl (answerable, unanswerable and
follow-ups with their history) through the in-process app (services/eval/target.py: the cached ingested
corpus and a vLLM of its own) with STEWARD_GROUNDING_ACTION=off, and saves each raw answer with its numbered
sources. `score` (the default, which collects first when the answers file is missing) then applies the
grounding check (services/core/answers/grounding.py, the real MiniLM embedder) to those answers offline: the model
decodes greedily, so this is the answer the chat path would have checked, and the thresholds can be
swept without asking the model again.

Reference judgement, computed independently of the check (which only sees the retrieved chunks): a
generated sentence is *truly supported* when it makes a claim the question's relevant (gold) documents
back up, i.e. at least REFERENCE_OVERLAP of its content words occur in the text of those whole documents
and every number in it does too. Unanswerable questions have no gold documents, so every claim made for
them is unsupported. Sentences that only decline ("I don't know", "the sources do not say") make no claim
and are counted apart (`abstentions`). The reference is lexical, so a faithful paraphrase in new words
counts as unsupported; for a 270M base model that mostly copies or invents, that is rare.

Printed (name=value): sentences_total, truly_supported, unsupported_before (reaching users with no check),
unsupported_after (still reaching them with the check and the settings' thresholds), supported_removed
(true sentences the check removed), answers_fell_back, invalid_citations, and the best points of a
threshold sweep (`sweep.*`).

    python bench/grounding.py [collect|score] [--answers PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, ROOT
from services.core.answers.grounding import Grounder, SentenceVerdict, content_words, numbers, split_sentences
from services.core.answers.grounding import passes as grounding_rule

DEFAULT_ANSWERS = ROOT / "eval-report" / "grounding-answers.json"
REFERENCE_OVERLAP = 0.8
ABSTAIN = re.compile(
    r"\b(?:don't|do not|doesn't|does not|cannot|can't|not)\b.*\b(?:know|say|says|mention|mentioned|specif\w*|"
    r"cover\w*|contain\w*|provide\w*|information|sure)\b|\bno information\b",
    re.IGNORECASE,
)
SIMILARITIES = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01]  # 1.01: similarity not used
OVERLAPS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.01]  # 1.01: overlap not used


def collect(answers_path: Path, limit: int | None) -> None:
    """Every question through chat with grounding off; raw answers and their sources to `answers_path`."""
    os.environ["STEWARD_GROUNDING_ACTION"] = "off"
    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import load_questions
    from services.eval.target import inprocess_target

    questions = load_questions(DATASET)[:limit]
    files = corpus_files(CORPUS)
    rows: list[dict[str, Any]] = []
    with inprocess_target(files, generate=True) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        api.wait_for_llm()
        for n, question in enumerate(questions, start=1):
            # Streamed: the model's own text and every source it was given, in the prompt's numbering, as the
            # check sees them (the `done` answer's citations are only those the answer used, renumbered).
            reply = api.client.chat_raw(question.question, question.history_payload() or None)
            rows.append(
                {
                    "id": question.id,
                    "question": question.question,
                    "answerable": question.answerable,
                    "relevant": list(question.relevant),
                    "answer": reply["raw"],
                    "generated": reply["generated"],
                    "citations": [
                        {"source": c["source"], "text": "\n\n".join(p["text"] for p in c["passages"])}
                        for c in reply["sources"]
                    ],
                }
            )
            print(f"[bench] {n}/{len(questions)} {question.id}", file=sys.stderr, flush=True)
            # Written as it goes: an interrupted run can still be scored on the answers so far.
            answers_path.parent.mkdir(parents=True, exist_ok=True)
            answers_path.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


@dataclass
class Judged:
    question_id: str
    verdict: SentenceVerdict
    truly_supported: bool
    abstention: bool


def truly_supported(sentence: str, gold_words: set[str], gold_numbers: set[str]) -> bool:
    words = content_words(sentence)
    if not words or not gold_words:
        return False
    return len(words & gold_words) / len(words) >= REFERENCE_OVERLAP and numbers(sentence) <= gold_numbers


def judge(
    rows: list[dict[str, Any]], min_similarity: float, min_overlap: float, encoder: str = "int8"
) -> tuple[list[Judged], int, int]:
    """Every generated sentence with the check's verdict and the reference's; the invalid markers; and how many
    sentences the model measured again near the threshold. `encoder`:
    the int8 copy chat checks with (`Embedder.embed_approximate`, the model measuring again what lands near the
    threshold), or the model alone (`exact`)."""
    from services.core.embedding.dense import Embedder
    from services.core.settings import Settings

    settings = Settings()
    embedder = Embedder(settings.embedding_model, settings.embedding_batch_size, settings.embedding_replicas)
    judged: list[Judged] = []
    invalid = confirmed = 0
    for row in rows:
        if not row["generated"]:
            continue
        gold = " ".join((CORPUS / source).read_text(encoding="utf-8", errors="replace") for source in row["relevant"])
        gold_words, gold_numbers = content_words(gold), numbers(gold)
        grounder = Grounder(
            {c["source"]: c["text"] for c in row["citations"]},
            embedder.embed if encoder == "exact" else embedder.embed_approximate,
            min_similarity,
            min_overlap,
            question=row["question"],
            confirm=None if encoder == "exact" else embedder.embed,  # as chat checks: the model near the threshold
        )
        for sentence in split_sentences(row["answer"]):
            verdict = grounder.check_sentence(sentence)
            invalid += len(verdict.invalid)
            judged.append(
                Judged(
                    row["id"],
                    verdict,
                    truly_supported(sentence, gold_words, gold_numbers),
                    bool(ABSTAIN.search(sentence)),
                )
            )
        confirmed += grounder.confirmed
    return judged, invalid, confirmed


def passes(verdict: SentenceVerdict, min_similarity: float, min_overlap: float) -> bool:
    """The check's rule at other thresholds (numbers_ok is false without sources). The terse-answer rule does
    not depend on them, so a sentence it vouched for passes at every point of the sweep."""
    v = verdict
    return v.terse or grounding_rule(v.similarity, v.overlap, v.words, v.numbers_ok, min_similarity, min_overlap)


def outcome(claims: list[Judged], min_similarity: float, min_overlap: float) -> tuple[int, int]:
    """(unsupported sentences still reaching users, truly supported sentences removed) under `hold`."""
    after = removed = 0
    for j in claims:
        kept = passes(j.verdict, min_similarity, min_overlap)
        after += kept and not j.truly_supported
        removed += (not kept) and j.truly_supported
    return after, removed


def score(answers_path: Path, encoder: str) -> None:
    from services.core.settings import Settings

    settings = Settings()
    rows = json.loads(answers_path.read_text())
    thresholds = (settings.grounding_min_similarity, settings.grounding_min_overlap)
    judged, invalid, confirmed = judge(rows, *thresholds, encoder)
    claims = [j for j in judged if not j.abstention]
    after, removed = outcome(claims, settings.grounding_min_similarity, settings.grounding_min_overlap)
    # An answer falls back (extractive under annotate and hold) when none of its sentences passes.
    fell_back = sum(
        1
        for qid in {j.question_id for j in judged}
        if not any(j.verdict.supported for j in judged if j.question_id == qid)
    )
    unsupported_before = sum(not j.truly_supported for j in claims)
    print(f"answers_generated={sum(1 for r in rows if r['generated'])}")
    print(f"answers_total={len(rows)}")
    print(f"encoder={encoder}")
    print(f"sentences_total={len(claims)}")
    print(f"abstentions={len(judged) - len(claims)}")
    print(f"truly_supported={len(claims) - unsupported_before}")
    print(f"unsupported_before={unsupported_before}")
    print(f"min_similarity={settings.grounding_min_similarity}")
    print(f"min_overlap={settings.grounding_min_overlap}")
    print(f"unsupported_after={after}")
    print(f"supported_removed={removed}")
    print(f"answers_fell_back={fell_back}")
    print(f"invalid_citations={invalid}")
    # The terse-answer rule's share: its thresholds were set by judgement, not on this set.
    if encoder != "exact":
        # The same sentences checked with the model itself: how often the int8 copy's verdict differs.
        exact, _, _ = judge(rows, *thresholds, "exact")
        print(f"confirmed_by_the_model={confirmed}")
        pairs = list(zip(judged, exact, strict=True))
        differing = sum(a.verdict.supported != b.verdict.supported for a, b in pairs)
        print(f"verdict_agreement_with_exact={1 - differing / len(pairs):.4f}")
        print(f"verdicts_differing={differing}")
        diffs = [abs(a.verdict.similarity - b.verdict.similarity) for a, b in pairs]
        print(f"similarity_abs_diff_mean={sum(diffs) / len(diffs):.4f}")
        print(f"similarity_abs_diff_max={max(diffs):.4f}")
        e_after, e_removed = outcome([j for j in exact if not j.abstention], *thresholds)
        print(f"unsupported_after_exact={e_after}")
        print(f"supported_removed_exact={e_removed}")
    terse = [j for j in claims if j.verdict.terse]
    print(f"terse_supported={len(terse)}")
    print(f"terse_supported_truly={sum(j.truly_supported for j in terse)}")
    sweep = sorted(
        ((*outcome(claims, s, o), s, o) for s in SIMILARITIES for o in OVERLAPS),
        key=lambda r: (2 * r[0] + r[1], r[0]),  # an invented sentence shown costs twice a true one removed
    )
    for rank, (a, r, s, o) in enumerate(sweep[:8], start=1):
        print(f"sweep.{rank}=min_similarity:{s} min_overlap:{o} unsupported_after:{a} supported_removed:{r}")
    for s in (0.6, 0.7, 0.75, 0.8, 1.01):
        a, r = outcome(claims, s, 1.01)
        print(f"sweep.similarity_only.{s}=unsupported_after:{a} supported_removed:{r}")
    for o in (0.5, 0.6, 0.7, 0.8, 1.01):
        a, r = outcome(claims, 1.01, o)
        print(f"sweep.overlap_only.{o}=unsupported_after:{a} supported_removed:{r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", nargs="?", choices=["collect", "score"], default="score")
    parser.add_argument("--answers", type=Path, default=DEFAULT_ANSWERS)
    parser.add_argument("--limit", type=int, default=None, help="collect: only the first N questions")
    parser.add_argument(
        "--encoder",
        choices=["int8", "exact"],
        default="int8",
        help="score: the encoder's int8 copy (what chat checks with) or the model itself",
    )
    args = parser.parse_args()
    if args.phase == "collect" or not args.answers.is_file():
        collect(args.answers, args.limit)
    if args.phase == "score":
        score(args.answers, args.encoder)


if __name__ == "__main__":
    main()
