"""The coverage rule: a question's codes, years and names must appear in one retrieved document."""

from __future__ import annotations

import pytest

from services.core.retrieval.answerability import specific_terms, uncovered_terms


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        ("How do I fix VPN error 720?", ["VPN", "720"]),
        ("What does Ledgerline error E-LDG-0999 mean?", ["Ledgerline", "E-LDG-0999"]),
        ("What was the Toronto hotel limit in the 2023 travel policy?", ["Toronto", "2023"]),
        ("What is the salary range for job level L5?", ["L5"]),
        # Amounts are answered by ranges that do not contain them; question words are not names.
        ("How many quotes do I need before buying services worth €40,000?", []),
        ("What is the parental leave policy?", []),
    ],
)
def test_specific_terms(question: str, terms: list[str]) -> None:
    assert specific_terms(question) == terms


def test_one_document_must_cover_every_term() -> None:
    lisbon = ["Parking in Lisbon", "A monthly permit at the Lisbon garage costs 95 euros."]
    toronto = ["Toronto office guide", "The Toronto office is on Front Street."]
    question = "How much is a parking permit at the Toronto office in 2025?"
    # Toronto is in one document and nothing mentions 2025: the best document still misses "2025".
    assert uncovered_terms(question, [lisbon, toronto]) == ["2025"]
    assert uncovered_terms("Parking permit cost in Lisbon?", [toronto, lisbon]) == []
    # Codes match however they are written: E-LDG-0999 / e ldg 0999.
    assert uncovered_terms("What does E-LDG-0999 mean?", [["Ledgerline errors", "e ldg 0999: locked"]]) == []
    assert uncovered_terms("What does ERR-720 mean?", []) == ["ERR-720"]
