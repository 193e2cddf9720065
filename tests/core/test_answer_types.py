"""The kind of value a question asks for and whether a sentence states one (services/core/answers/answer_types.py)."""

from __future__ import annotations

import pytest

from services.core.answers.answer_types import asked, codes


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How long is CCTV footage kept?", "duration"),
        ("How far in advance can I book a desk?", "duration"),
        ("How long does my password have to be?", "length"),
        ("What does a monthly parking permit cost?", "money"),
        ("Does the company give me any money for a chair?", "money"),
        ("On which days are suppliers paid?", "time"),
        ("When does the garage open?", "time"),
        ("How many employees were affected?", "count"),
        ("What share of the premium does the employer pay?", "percent"),
    ],
)
def test_the_kind_of_value_a_question_asks_for(question: str, kind: str) -> None:
    assert kind in asked(question).kinds


@pytest.mark.parametrize(
    "question", ["How do I reset my password?", "Who approves travel to Toronto?", "Is Form HR-22b the same as HR-22a?"]
)
def test_questions_that_ask_for_no_value(question: str) -> None:
    assert asked(question).kinds == frozenset()


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How long can an admin check out a credential?", "The checkout lasts up to **8 hours**.", True),
        ("How long can an admin check out a credential?", "Owners review all checkouts monthly.", False),
        ("How long does my password have to be?", "Passwords need at least **14 characters**.", True),
        ("How much is the referral bonus in Canada?", "Northwind Canada | CAD 2,500 gross", True),
        ("How much is the referral bonus?", "You receive a referral bonus after probation.", False),
        ("When is the Tuesday run's cut-off?", "Tuesday run | Monday 16:00 CET", True),
        ("How many employees were affected in SIR-2025-031?", "23 employees of the Lisbon office", True),
        # The question's own identifier and year are no answer to it.
        ("How many employees were affected in SIR-2025-031?", "Summary of SIR-2025-031, closed in 2025", False),
        ("How many days of holiday do I get?", "Every employee gets 27 days of paid holiday.", True),
        ("What share of the premium is paid?", "The company pays 80% of the premium.", True),
    ],
)
def test_a_sentence_states_the_value_asked_for(question: str, sentence: str, expected: bool) -> None:
    assert asked(question).stated_by(sentence) is expected


def test_identifiers_are_found_whatever_their_shape() -> None:
    text = "Form FIN-F-03, error E-LDG-0042, incident SIR-2025-031, cost centre cc-4410, form HR-22b; not 2025-08-04."
    assert codes(text) == {"FIN-F-03", "E-LDG-0042", "SIR-2025-031", "CC-4410", "HR-22B"}
