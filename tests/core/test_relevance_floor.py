"""The relevance floor carried over to a tuned encoder's scale (services/core/adaptation/floor.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from services.core.adaptation.floor import MIN_QUESTIONS, Scale, carry_floor


class Similarities:
    """A store whose best hit for a question has a given similarity (or no hit at all)."""

    def __init__(self, best: dict[str, float | None]) -> None:
        self.best = best
        self.asked: list[Any] = []

    def search(self, query: Any) -> list[Any]:
        self.asked.append(query)
        value = self.best[query.dense[0]]
        return [] if value is None else [SimpleNamespace(score=value)]


def scale(best: dict[str, float | None]) -> Scale:
    return Scale(Similarities(best), lambda q: [q])  # type: ignore[arg-type]


QUESTIONS = [f"q{i}" for i in range(20)]
OLD = {q: 0.15 + 0.03 * i for i, q in enumerate(QUESTIONS)}


def test_the_floor_moves_along_the_line_through_both_encoders_similarities() -> None:
    # The tuned encoder spreads similarities: new = 1.5 * old - 0.1.
    new = {q: 1.5 * s - 0.1 for q, s in OLD.items()}
    fit = carry_floor(0.25, QUESTIONS, old=scale(dict(OLD)), new=scale(dict(new)))
    assert fit.floor == pytest.approx(1.5 * 0.25 - 0.1, abs=1e-3)
    assert (fit.slope, fit.intercept) == (pytest.approx(1.5, abs=1e-3), pytest.approx(-0.1, abs=1e-3))
    assert fit.questions == len(QUESTIONS) and fit.previous == 0.25
    # A question is searched dense, for its single best hit, on both scales.
    asked = scale(dict(OLD))
    carry_floor(0.25, QUESTIONS[:1], old=asked, new=scale(dict(new)))
    query = asked.store.asked[0]  # type: ignore[attr-defined]
    assert (query.mode, query.limit, query.allowed_groups) == ("dense", 1, None)


def test_an_unchanged_encoder_keeps_the_floor() -> None:
    fit = carry_floor(0.25, QUESTIONS, old=scale(dict(OLD)), new=scale(dict(OLD)))
    assert fit.floor == pytest.approx(0.25, abs=1e-4)


def test_too_few_questions_or_no_spread_keep_the_floor_and_say_it_was_not_fitted() -> None:
    few = QUESTIONS[: MIN_QUESTIONS - 1]
    fit = carry_floor(0.3, few, old=scale(dict(OLD)), new=scale({q: 0.9 for q in QUESTIONS}))
    assert (fit.floor, fit.slope, fit.questions) == (0.3, None, len(few))
    flat = {q: 0.5 for q in QUESTIONS}
    assert carry_floor(0.3, QUESTIONS, old=scale(flat), new=scale(dict(OLD))).slope is None


def test_questions_without_a_hit_are_left_out_and_the_floor_stays_within_0_and_1() -> None:
    empty: dict[str, float | None] = {**OLD, "q0": None, "q1": None}
    steep = {q: 5.0 * s for q, s in OLD.items()}
    fit = carry_floor(0.4, QUESTIONS, old=scale(empty), new=scale(dict(steep)))
    assert fit.questions == len(QUESTIONS) - 2
    assert fit.floor == 1.0
    assert fit.as_dict()["min_relevance_after"] == 1.0
