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
