"""Which source sentences an extractive answer quotes (services/core/answers/extractive.py).

The embedder is replaced by fixed vectors so each test states the similarities it is about: what is tested is the
selection around them (the shortlist, the value bonus, the continuation of a line that ends with a colon)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.core.answers import extractive


def fixed_embed(similarity: dict[str, float]) -> extractive.Embed:
    """The question is [1, 0]; a listed sentence has exactly the given cosine to it, any other sentence 0."""

    def embed(texts: Sequence[str]) -> list[list[float]]:
        vectors = [[1.0, 0.0]]
        for text in texts[1:]:
            cosine = similarity.get(text, 0.0)
            vectors.append([cosine, math.sqrt(1 - cosine * cosine)])
        return vectors

    return embed


def quoted(quotes: list[extractive.Quote]) -> str:
    return " ".join(q.text for q in quotes)


def test_a_question_for_a_value_prefers_the_sentence_that_states_one() -> None:
    sources = [
        (
            1,
            "Hamburg CCTV footage retention is described in the Facilities policy.\n"
            "The Hamburg CCTV cameras record footage of the garage entrance and exit lanes.\n"
            "Footage of the Hamburg garage is reviewed with the works council present.\n"
            "Footage from the Hamburg reception cameras goes to the security contractor.\n"
            "Footage in Hamburg is kept 72 hours, then overwritten.",
        )
    ]
    similarity = {
        "Hamburg CCTV footage retention is described in the Facilities policy.": 0.70,
        "The Hamburg CCTV cameras record footage of the garage entrance and exit lanes.": 0.66,
        "Footage of the Hamburg garage is reviewed with the works council present.": 0.65,
        "Footage from the Hamburg reception cameras goes to the security contractor.": 0.64,
        "Footage in Hamburg is kept 72 hours, then overwritten.": 0.55,
    }
    asked_for_value = extractive.select("How long is footage kept in Hamburg?", sources, fixed_embed(similarity))
    assert "72 hours" in quoted(asked_for_value)
    # Not a question for a value: the same sentence, fifth by similarity, is not quoted.
    other = extractive.select("Who reviews the footage in Hamburg?", sources, fixed_embed(similarity))
    assert "72 hours" not in quoted(other)


def test_the_verb_may_is_not_a_value() -> None:
    # "May" the month would give the permission sentence the value bonus and push the opening time out of the margin.
    sources = [
        (1, "Staff may book the Hamburg garage through the portal.\nThe Hamburg garage opens at 7:00 on weekdays.")
    ]
    similarity = {
        "Staff may book the Hamburg garage through the portal.": 0.60,
        "The Hamburg garage opens at 7:00 on weekdays.": 0.38,
    }
    quotes = extractive.select("When does the Hamburg garage open?", sources, fixed_embed(similarity))
    assert "7:00" in quoted(quotes)


def test_a_line_that_ends_with_a_colon_is_quoted_with_the_line_after_it() -> None:
    sources = [
        (
            1,
            "Accounts Payable pays supplier invoices in two payment runs per week:\n"
            "- Tuesday run, approvals due by Monday 16:00\n"
            "- Friday run, approvals due by Thursday 16:00",
        )
    ]
    similarity = {"Accounts Payable pays supplier invoices in two payment runs per week:": 0.8}
    quotes = extractive.select("When does accounts payable pay supplier invoices?", sources, fixed_embed(similarity))
    assert quotes[0].text.startswith("Accounts Payable pays") and "Tuesday run" in quotes[0].text
    assert len([q for q in quotes if "Tuesday run" in q.text]) == 1  # quoted once, not again on its own


def test_a_colon_line_is_quoted_with_the_table_it_introduces() -> None:
    sources = [
        (
            1,
            "Accounts Payable pays supplier invoices in two payment runs per week:\n"
            "Run | Cut-off for approval | Money leaves our account\n"
            "Tuesday run | Monday 16:00 | Tuesday\n"
            "Friday run | Thursday 16:00 | Friday\n"
            "Invoices approved late wait for the next payment run.",
        )
    ]
    similarity = {"Accounts Payable pays supplier invoices in two payment runs per week:": 0.8}
    quotes = extractive.select("On which days are supplier invoices paid?", sources, fixed_embed(similarity))
    first = quotes[0].text
    assert "Tuesday run | Monday 16:00 | Tuesday" in first and "Friday run | Thursday 16:00 | Friday" in first
    assert "approved late" not in first  # the table ends where its rows do


def test_a_count_is_a_number_before_what_is_counted_not_the_questions_own_numbers() -> None:
    sources = [
        (
            1,
            "Incident summary SIR-2025-031 was closed after review.\n"
            "The summary of SIR-2025-031 went to the data protection officer.\n"
            "Please find the summary of incident SIR-2025-031 attached.\n"
            "Reported on 2025-08-04 by the sender of the email.\n"
            "23 employees of the Lisbon office were affected.",
        )
    ]
    similarity = {
        "Incident summary SIR-2025-031 was closed after review.": 0.76,
        "The summary of SIR-2025-031 went to the data protection officer.": 0.62,
        "Please find the summary of incident SIR-2025-031 attached.": 0.62,
        "Reported on 2025-08-04 by the sender of the email.": 0.40,
        "23 employees of the Lisbon office were affected.": 0.32,
    }
    question = "How many employees were affected in incident SIR-2025-031?"
    text = quoted(extractive.select(question, sources, fixed_embed(similarity)))
    assert "23 employees" in text
    assert "Reported on 2025-08-04" not in text  # a date is no count of employees


def test_a_sentence_naming_the_identifier_asked_about_is_preferred() -> None:
    rows = {
        "cost_centre: CC-4420; owner: Jonas Petersen; status: active": 0.66,
        "cost_centre: CC-4430; owner: Yusuf Demir; status: active": 0.65,
        "cost_centre: CC-4440; owner: Ana Costa; status: active": 0.64,
        "cost_centre: CC-4450; owner: Lea Brandt; status: closed": 0.63,
        "cost_centre: CC-4410; owner: Stefan Krüger; status: active": 0.50,
    }
    sources = [(1, "\n".join(rows))]
    quotes = extractive.select("Who owns cost centre CC-4410?", sources, fixed_embed(rows))
    assert "Stefan Krüger" in quoted(quotes)


def test_the_shortlist_matches_word_forms() -> None:
    """Only sentences sharing words with the question are embedded; "lockers" shares "locker"."""
    filler = [f"Day lockers on floor {n} open with your badge and the locker room is by the lift." for n in range(14)]
    answer = "Long-term lockers can be booked in DeskFlow."
    sources = [(1, "\n".join([*filler, answer]))]
    similarity = {answer: 0.9, **dict.fromkeys(filler, 0.5)}
    quotes = extractive.select("Can I book a locker for several weeks?", sources, fixed_embed(similarity))
    assert quotes[0].text == answer


def test_nothing_to_quote_is_an_empty_answer() -> None:
    assert extractive.select("Anything?", [(1, "| --- | --- |\nOk.")], fixed_embed({})) == []
