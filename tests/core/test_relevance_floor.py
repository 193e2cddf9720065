"""The relevance floor carried over to a tuned encoder's scale (services/core/adaptation/floor.py), from the best
similarities the gate's dense searches find (services/core/adaptation/gate.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from services.core.adaptation import gate
from services.core.adaptation.floor import MIN_QUESTIONS, carry_floor
from services.core.vectorstore.port import SparseVector

QUESTIONS = [f"q{i}" for i in range(20)]
OLD = [0.15 + 0.03 * i for i in range(len(QUESTIONS))]


def test_the_floor_moves_along_the_line_through_both_encoders_similarities() -> None:
    # The tuned encoder spreads similarities: new = 1.5 * old - 0.1.
    new = [1.5 * s - 0.1 for s in OLD]
    fit = carry_floor(0.25, OLD, new)
    assert fit.floor == pytest.approx(1.5 * 0.25 - 0.1, abs=1e-3)
    assert (fit.slope, fit.intercept) == (pytest.approx(1.5, abs=1e-3), pytest.approx(-0.1, abs=1e-3))
    assert fit.questions == len(QUESTIONS) and fit.previous == 0.25


def test_an_unchanged_encoder_keeps_the_floor() -> None:
    fit = carry_floor(0.25, OLD, list(OLD))
    assert fit.floor == pytest.approx(0.25, abs=1e-4)


def test_too_few_questions_or_no_spread_keep_the_floor_and_say_it_was_not_fitted() -> None:
    few = OLD[: MIN_QUESTIONS - 1]
    fit = carry_floor(0.3, few, [0.9] * len(few))
    assert (fit.floor, fit.slope, fit.questions) == (0.3, None, len(few))
    assert carry_floor(0.3, [0.5] * len(OLD), OLD).slope is None
    assert carry_floor(0.3, [], []).slope is None


def test_questions_without_a_hit_are_left_out_and_the_floor_stays_within_0_and_1() -> None:
    old: list[float | None] = [None, None, *OLD[2:]]
    steep = [5.0 * s for s in OLD]
    fit = carry_floor(0.4, old, steep)
    assert fit.questions == len(QUESTIONS) - 2
    assert fit.floor == 1.0
    assert fit.as_dict()["min_relevance_after"] == 1.0


class Store:
    """A store whose hits for a question have given scores (none for an unknown question)."""

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = scores
        self.asked: list[Any] = []

    def search(self, query: Any) -> list[Any]:
        self.asked.append(query)
        return [
            SimpleNamespace(score=s, document_id=f"d{i}") for i, s in enumerate(self.scores.get(query.dense[0], []))
        ]


def test_the_gate_reports_each_questions_best_dense_similarity_in_order() -> None:
    store = Store({"a": [0.8, 0.6], "b": [0.4]})
    sparse = SimpleNamespace(encode_query=lambda q: SparseVector(indices=(1,), values=(1.0,)))
    questions = [gate.GateQuestion(q, frozenset({"d0"})) for q in ("a", "b", "nothing")]
    scored = gate.score(questions, store=store, embed_query=lambda q: [q], sparse_encoder=sparse, mode="hybrid")  # type: ignore[arg-type]
    assert scored.best_dense == (0.8, 0.4, None)
    assert [q.mode for q in store.asked] == ["hybrid", "dense"] * 3  # the dense search the gate runs anyway
