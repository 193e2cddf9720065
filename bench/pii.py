"""Recall and precision of the PII detector per entity type, on generated labelled sentences.

Sentences come from services/eval/pii.py (templates filled with fake names, e-mail addresses,
phone numbers in several national and international formats, Luhn-valid card numbers, mod-97-valid IBANs
of nine countries, IP addresses, and look-alikes that are not personal data). Seeded: the same arguments
give the same sentences. Prints one `name=value` per line; goal: recall >= 0.95 for e-mail, phone, card, IBAN.

    python bench/pii.py [--sentences 600] [--seed 7] [--show-errors]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from services.core.pii import load_detector
from services.eval.pii import GOAL_ENTITIES, evaluate, generate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-score", type=float, default=0.4)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    detector = load_detector(args.min_score)
    print(f"load_s={time.perf_counter() - started:.2f}")
    sentences = generate(args.sentences, args.seed)
    started = time.perf_counter()
    scores = evaluate(detector, sentences)
    elapsed = time.perf_counter() - started
    print(f"sentences={len(sentences)}")
    print(f"ms_per_sentence={elapsed * 1000 / len(sentences):.1f}")
    for entity, s in scores.items():
        print(f"{entity}.gold={s.gold}")
        print(f"{entity}.recall={s.recall:.3f}")
        print(f"{entity}.precision={s.precision:.3f}")
        if args.show_errors:
            for value in s.missed[:15]:
                print(f"{entity}.missed={value!r}")
            for value in s.false[:15]:
                print(f"{entity}.false={value!r}")
    met = all(scores[e].recall >= 0.95 for e in GOAL_ENTITIES)
    print(f"goal_recall_met={str(met).lower()}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
