"""PII detection beyond our own templates: floors on a held-out sample (services/eval/pii_sets.py, source B:
mimesis names, libphonenumber example numbers, templates the detector was not tuned on), and what a user
notices: numbers from anywhere redacted, dates and order numbers left alone, names of many cultures found,
capitalised companies, products and places not taken for people. The detector loads once per process."""

from __future__ import annotations

import pytest

from services.core.pii import Placeholders, load_detector, redact
from services.eval.pii import Labelled, score
from services.eval.pii_sets import evaluation_set, tuning_set


def _entities(text: str, entity: str) -> list[str]:
    return [s.text for s in load_detector().detect(text) if s.entity == entity]


def test_floors_on_a_held_out_sample() -> None:
    # 150 held-out sentences (another seed than bench/pii.py's); measured: PERSON recall/precision 0.948/0.955,
    # PHONE 0.981/1.000 on this sample. The floors leave room for noise, not for a regression.
    sentences = evaluation_set(150, seed=5)
    scores = score(sentences, load_detector().detect_many([s.text for s in sentences]))
    floors = {
        "PERSON": (0.90, 0.90),
        "PHONE_NUMBER": (0.93, 0.97),
        "EMAIL_ADDRESS": (0.95, 0.95),
        "CREDIT_CARD": (0.95, 0.95),
        "IBAN_CODE": (0.95, 0.95),
    }
    for entity, (recall, precision) in floors.items():
        s = scores[entity]
        assert s.gold >= (50 if entity in ("PERSON", "PHONE_NUMBER") else 3), entity
        assert s.recall >= recall, (entity, s.recall, s.missed)
        assert s.precision >= precision, (entity, s.precision, s.false)


def test_the_two_sets_come_from_different_sources() -> None:
    # No held-out name is a tuning name: the sets share no person string at all.
    def people(sentences: list[Labelled]) -> set[str]:
        return {s.text[a:b] for s in sentences for e, a, b in s.spans if e == "PERSON"}

    assert not people(evaluation_set(200, seed=2)) & people(tuning_set(200, seed=1))
    assert evaluation_set(30, seed=2) == evaluation_set(30, seed=2)


@pytest.mark.parametrize(
    "text, number",
    [
        ("Chidi said you can reach him on +234 803 123 4567 after lunch.", "+234 803 123 4567"),
        ("Call our Tokyo office on 03-1234-5678 tomorrow.", "03-1234-5678"),
        ("Her mobile is (11) 91234-5678 if the landline is busy.", "(11) 91234-5678"),
        ("Ring the hotline 0044 20 7946 0958 or write to us.", "0044 20 7946 0958"),
        ("Kind regards, Ana — M +351 912.345.678", "+351 912.345.678"),
        ("Whatsapp me at +91 98765 43210.", "+91 98765 43210"),
    ],
)
def test_phone_numbers_from_anywhere_in_running_text_are_redacted(text: str, number: str) -> None:
    found = load_detector().detect(text)
    assert any(s.entity == "PHONE_NUMBER" and number in s.text for s in found), found
    redacted = redact(text, found, Placeholders())
    assert number not in redacted and "<PHONE_1>" in redacted


@pytest.mark.parametrize(
    "text",
    [
        "Your order number is 4735379907 and it ships on 12.03.2025.",
        "Invoice INV-2024-00017 of USD 1,250.00 is due 2025-04-30; ticket #58211.",
        "Customer 775-951-489 ordered 3,831,610 units in Q3 2025 (ISBN 978-3-16-148410-0).",
        "The 2019-2024 report covers release v3.12.1, build 20240517, room 4.12.",
        "Reference 4111 1111 1111 1112 was cancelled at 10:45.",
    ],
)
def test_dates_amounts_and_order_numbers_are_not_phone_numbers(text: str) -> None:
    assert _entities(text, "PHONE_NUMBER") == []


@pytest.mark.parametrize(
    "text, name",
    [
        # None of these cultures is among the tuning set's Faker locales (services/eval/pii_sets.py).
        ("Yesterday Guðrún Sigurðardóttir approved the budget.", "Guðrún Sigurðardóttir"),
        ("The contract was signed by Aigerim Zhaksybekova on Monday.", "Aigerim Zhaksybekova"),
        ("Please forward the invoice to Nguyễn Thị Hương before Friday.", "Nguyễn Thị Hương"),
        ("I met Kwame Mensah at the supplier's office.", "Kwame Mensah"),
        ("Thanks, Oluwaseun! I will ask Mehmet Y\u0131lmaz to sign.", "Mehmet Y\u0131lmaz"),  # Turkish dotless i
        ("Minutes taken by Dr. Okonkwo.", "Okonkwo"),
        ("Who is Sevda \u018fliyeva? She keeps emailing us.", "Sevda \u018fliyeva"),  # Azerbaijani \u018f/\u0259
        ("Minutes: Aysel M\u0259mm\u0259dova (chair), Ana Ruiz, Tom Kelly.", "Aysel M\u0259mm\u0259dova"),
    ],
)
def test_names_of_cultures_not_tuned_on_are_found(text: str, name: str) -> None:
    found = _entities(text, "PERSON")
    assert any(name in value or value in name for value in found), found


@pytest.mark.parametrize(
    "text",
    [
        "Acme GmbH moved its warehouse to Grodzisk Mazowiecki in 2024.",
        "We shipped forty units of the Galaxy S23 to Lisbon and Costa Rica.",
        "Quarterly Sales Report: Customer Service Excellence",
        "Smith, Jones and Partners LLP audited Baker Street Holdings.",
        "The new office is at 221 Victoria Street, next to Santa Clara Station.",
    ],
)
def test_capitalised_companies_products_and_places_are_not_people(text: str) -> None:
    assert _entities(text, "PERSON") == []


@pytest.mark.parametrize(
    "text, name",
    [
        # A lone first name is a person when people's words surround it, whatever label spaCy gives it.
        ("I'm Elif, you can reach me at 0612 345 678.", "Elif"),
        ("Dauren said the order is late.", "Dauren"),
        ("Please add Jan Novak to the list; Solveig replaces Eva Berg from May.", "Solveig"),
        ("Thanks Kadri! Forwarding to Jaan Tamm.", "Kadri"),
        # Structure: lists of people, a pronoun, an appositive, a contact detail after the name.
        ("Attendees: Meera Samra, Charity Balogun and Dr Pal.", "Charity Balogun"),
        ("I spoke with Pranit Prabhu yesterday; he wants the contract.", "Pranit Prabhu"),
        ("Torben Wende, our new surveyor, starts on Monday.", "Torben Wende"),
        ("Questions go to Tijn Hoes (tijn.hoes@example.com).", "Tijn Hoes"),
        ("We hired Jonas Mekas as head of sales.", "Jonas Mekas"),
    ],
)
def test_names_are_found_from_the_words_around_them(text: str, name: str) -> None:
    assert name in _entities(text, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "The Ford Mustang and the Lincoln Navigator sold out.",
        "Release notes: Watson Pro now supports Reason X7 Max.",
        "Deutsche Telekom and Nordwind Logistik signed the deal.",
        "We flew from Kuala Lumpur to Addis Ababa.",
        "Socorro Mari\u00f1o Aroca S.Coop. opened a new office.",
    ],
)
def test_brands_products_companies_and_cities_named_like_people_are_not_people(text: str) -> None:
    assert _entities(text, "PERSON") == []


@pytest.mark.parametrize(
    "text, number",
    [
        ("Urgent matters: Miki Maeda, 18796354706.", "18796354706"),
        ("Questions go to Jie Dai (14909802957).", "14909802957"),
        ("New lead: Ana Costa, 912345678, ana.costa@example.com", "912345678"),
    ],
)
def test_a_bare_number_beside_a_name_or_an_address_is_a_phone_number(text: str, number: str) -> None:
    assert number in _entities(text, "PHONE_NUMBER")


def test_the_shipped_place_list_is_read() -> None:
    places = load_detector().person_scorer.g.places
    assert {"kuala lumpur", "addis ababa", "reykjavík"} <= places


def test_one_number_written_two_ways_gets_one_placeholder() -> None:
    detector = load_detector()
    scope = Placeholders()
    first = redact("Call +44 (0)20 7946 0958.", detector.detect("Call +44 (0)20 7946 0958."), scope)
    second = redact("Or 0044 20 7946 0958?", detector.detect("Or 0044 20 7946 0958?"), scope)
    assert first == "Call <PHONE_1>." and second == "Or <PHONE_1>?"
