"""Recall and precision of the PII detector per entity type, on three labelled sets of different sources.

- `legacy_*`: services/eval/pii.py's generator (20 templates, the repo's own name list, 9 countries' numbers):
  the set the first detector was written against.
- `pii_*_insample`: the tuning set (services/eval/pii_sets.py, source A: Faker names and phone numbers, 43
  templates); rules and the PERSON threshold were chosen on it, so these figures are in-sample. `--sweep` also
  scores it with its names hidden from Faker's lists ("other_lists") and from every list ("out_of_lists").
- `pii_*` (no suffix): the held-out evaluation set (source B: mimesis names of 30 locales, libphonenumber's
  example numbers of ~200 regions in nine writings, 46 other templates). Nothing was tuned on it.

Goal: recall and precision >= 0.90 for PERSON and PHONE_NUMBER on the held-out set; e-mail, card and IBAN
recall >= 0.95. Prints one `name=value` per line. `--sweep` prints the PERSON threshold sweep on the tuning
set (how PERSON_THRESHOLD was chosen); `--show-errors` the held-out misses and false findings.

    python bench/pii.py [--eval 500] [--tuning 400] [--seed 2] [--sweep] [--show-errors]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from services.core.pii import load_detector
from services.eval.pii import GOAL_ENTITIES, Score, evaluate, generate
from services.eval.pii_sets import GOAL, REPORTED, evaluation_set, person_threshold_sweep, pii_metrics

SHORT_TEXTS = (
    "Hi Aoife, please call Chidi Okonkwo on +234 803 123 4567 about invoice INV-2024-00017.",
    "Our new hire, Nguyen Thi Huong, starts on 03.02.2025 in the Hanoi office; her mobile is 091 234 56 78.",
    "Refund €120.50 to card 4111 1111 1111 1111 and send the receipt to marta.kowalska@example.pl.",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", type=int, default=500, help="held-out sentences")
    parser.add_argument("--tuning", type=int, default=400, help="tuning sentences")
    parser.add_argument("--seed", type=int, default=2, help="held-out seed (the tuning set uses seed - 1)")
    parser.add_argument("--legacy", type=int, default=600, help="sentences of the legacy generator (seed 7)")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    detector = load_detector()
    print(f"load_s={time.perf_counter() - started:.2f}")
    timings = []
    for _ in range(3):
        for text in SHORT_TEXTS:
            t0 = time.perf_counter()
            detector.detect(text)
            timings.append(time.perf_counter() - t0)
    print(f"ms_per_short_text_single={statistics.median(timings) * 1000:.1f}")

    scores: dict[str, dict[str, Score]] = {}
    metrics = pii_metrics(detector, eval_count=args.eval, tuning_count=args.tuning, seed=args.seed, with_scores=scores)
    for name, value in metrics.items():
        print(f"{name}={value}")
    legacy = evaluate(detector, generate(args.legacy, 7))
    for entity in REPORTED:
        print(f"legacy_recall_{entity}={legacy[entity].recall:.4f}")
        print(f"legacy_precision_{entity}={legacy[entity].precision:.4f}")
    if args.show_errors:
        for entity in REPORTED:
            held_out = scores["eval"][entity]
            for text in held_out.missed[:20]:
                print(f"missed_{entity}={text!r}")
            for text in held_out.false[:20]:
                print(f"false_{entity}={text!r}")
    if args.sweep:
        for label, rows in person_threshold_sweep(detector).items():
            for threshold, (recall, precision) in rows.items():
                print(f"sweep_{label}_{threshold}=recall {recall} precision {precision}")

    met = all(
        metrics[f"pii_recall_{entity}"] >= recall and metrics[f"pii_precision_{entity}"] >= precision
        for entity, (recall, precision) in GOAL.items()
    ) and all(metrics[f"pii_recall_{entity}"] >= 0.95 for entity in GOAL_ENTITIES if entity != "PHONE_NUMBER")
    print(f"held_out_sentences={len(evaluation_set(args.eval, args.seed))}")
    print(f"goal_met={str(met).lower()}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
