"""Security figures in one run, `name=value` per line:

- `injection_recall_{questions,documents}`, `injection_fpr_{...}`: the learned prompt-injection detector at its
  tuned thresholds, on the held-out split (sources never used for training or tuning: spikee, bastioncorpus,
  agentdojo, jailbreak-corpus-mini; services/eval/injection_data.py), with the heuristic detector's figures on
  the same texts for comparison. `--skip-injection` leaves them out (the first run downloads the corpora).
- `pii_recall_<ENTITY>`, `pii_precision_<ENTITY>`: the PII detector on its held-out set (mimesis names of 30
  locales, libphonenumber example numbers of ~200 regions; services/eval/pii_sets.py).
- `acl_probes`, `acl_leaks`: the ACL leak probes (tests/support/leaks.py) against the embedded profile: every
  attacker asks for what they may not read in every way the API offers, then access changes (a PATCH, a failed
  narrowing version, a delete) and every probe runs again, follow-ups in their own old conversations included.
- `search_throughput_with_audit_ratio`: 16 concurrent searches through the search service with the audit log
  (group commit) against the same searches with a writer that records nothing, alternating rounds in one run;
  the median of the rounds' paired ratios.

    python bench/security.py [--rounds 4] [--searches 96] [--skip-injection] [--skip-pii]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from fastapi.testclient import TestClient

from services.api.search import service as search_service
from services.core.access.principals import Caller
from services.core.runtime import Runtime
from services.server import create_app
from tests.support.leaks import build_world, change_access, probe
from tests.support.settings import make_settings

CONCURRENCY = 16
QUESTIONS = (
    "How many days of paid holiday do employees get?",
    "Where do visitors park?",
    "When do deployments happen?",
    "What is the reference code?",
    "Which group may read about the roadmap?",
    "What is the salary band for a senior engineer?",
)


class NoAudit:
    """The baseline: the same search path, with an audit log that records nothing."""

    def append(self, events: Sequence[dict[str, Any]]) -> None:
        return None


def print_figures(figures: dict[str, float], names: Sequence[str] | None = None) -> None:
    for name in names or sorted(figures):
        value = figures[name]
        print(f"{name}={value:.4f}" if isinstance(value, float) else f"{name}={value}")


def injection() -> None:
    from services.eval.injection import evaluate

    figures = evaluate()
    keep = [name for name in sorted(figures) if name.startswith("injection_") and "[" not in name]
    print_figures(figures, keep)


def pii() -> None:
    from services.eval.pii_sets import pii_metrics

    figures = pii_metrics()
    print_figures(figures, [n for n in sorted(figures) if n.startswith(("pii_recall_", "pii_precision_"))])


def searches(runtime: Runtime, caller: Caller, audit_log: Any, count: int, tag: str) -> float:
    """Searches per second with CONCURRENCY threads, through the search service as the router calls it.

    Every call gets questions of its own (`tag`): the embedder remembers its last queries, and a side that
    reused the other side's would skip the embedding and look faster than it is."""

    def one(n: int) -> None:
        search_service.search(
            audit_log=audit_log,
            retriever=runtime.retriever,
            policies=runtime.policies,
            pii=runtime.pii,
            principal=caller,
            query=f"{QUESTIONS[n % len(QUESTIONS)]} ({tag} {n})",
            top_k=5,
        )

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(one, range(count)))
        return count / (time.perf_counter() - started)


def acl_and_audit(rounds: int, count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="steward-security-") as folder:
        settings = make_settings(Path(folder))
        with TestClient(create_app(settings), raise_server_exceptions=False) as api:
            world = build_world(api)
            before = probe(world)
            change_access(world)
            after = probe(world)
            print(f"acl_probes={after.requests}")  # the count runs on across both rounds
            print(f"acl_leaks={len(before.failures) + len(after.failures)}")
            for failure in (before.failures + after.failures)[:10]:
                print(f"# leak: {failure}", file=sys.stderr)

            runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
            caller = Caller("bench", "bench", "user", ("everyone", "eng", "hr"), clearance="confidential")
            searches(runtime, caller, NoAudit(), CONCURRENCY, "warm-up")  # the embedder's first passes
            audited, plain = [], []
            for n in range(rounds):  # alternating, so a noisy neighbour hits both sides alike
                audited.append(searches(runtime, caller, runtime.audit_writer, count, f"audited round {n}"))
                plain.append(searches(runtime, caller, NoAudit(), count, f"plain round {n}"))
            print(f"search_throughput_with_audit_per_s={statistics.median(audited):.1f}")
            print(f"search_throughput_without_audit_per_s={statistics.median(plain):.1f}")
            # Each round's audited and plain runs are neighbours in time: the median of their ratios cancels
            # what a noisy neighbour does to one round, which a ratio of the two medians does not.
            ratios = [a / p for a, p in zip(audited, plain, strict=True)]
            print(f"# per-round ratios: {' '.join(f'{r:.3f}' for r in ratios)}", file=sys.stderr)
            print(f"search_throughput_with_audit_ratio={statistics.median(ratios):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--searches", type=int, default=96, help="searches per round and side")
    parser.add_argument("--skip-injection", action="store_true")
    parser.add_argument("--skip-pii", action="store_true")
    args = parser.parse_args()
    if not args.skip_injection:
        injection()
    if not args.skip_pii:
        pii()
    acl_and_audit(args.rounds, args.searches)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
