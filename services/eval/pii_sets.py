"""Two labelled PII sets from different sources, so that what the detector was tuned on is not what it is
judged by (docs/governance.md, "PII", "Measured").

**Tuning set** (source A, the only one looked at while choosing rules and thresholds):
  names: Faker's per-locale first/last-name lists, 16 locales (`TUNING_NAME_LOCALES`);
  phone numbers: Faker's `phone_number()` for those locales, in Faker's own national/international formats
  (a third of them are not valid numbers by libphonenumber: Faker fills digits at random);
  companies, cities, countries, streets, job titles, catch phrases and product-like names (negatives): Faker;
  35 sentence templates and 8 negative-only ones (`TUNING_TEMPLATES`, `TUNING_NEGATIVES`).

**Evaluation set** (source B, held out):
  names: mimesis's per-locale name lists (another package, other compilers), 28 locales, Cyrillic ones
  romanized by mimesis's own tables; cultures absent from tuning: Czech, Danish, Estonian, Finnish, Croatian,
  Hungarian, Icelandic, Norwegian, Slovak, Turkish, Azerbaijani, Kazakh, Russian, Ukrainian, Greek...;
  phone numbers: libphonenumber's example numbers of every region that has them (~240), subscriber digits
  varied until valid, written in 9 styles none of which Faker produces exactly (`eval_phone`);
  companies, stock names, cities, streets, products, occupations (negatives): mimesis; 40 other templates
  written as chat messages, mail signatures, meeting notes and tickets (`EVAL_TEMPLATES`).

Cards, IBANs and e-mail addresses come from services/eval/pii.py's generators in both sets (their checksums
are what matters); e-mail local parts are made from each set's own names.
"""

from __future__ import annotations

import functools
import json
import random
import string
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import phonenumbers

from services.core.pii.detector import PiiDetector
from services.eval.pii import Labelled, Score, credit_card, iban, not_a_card, rng_choice_fmt, score

REPORTED = ("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE")
# Template slots that are personal data; every other slot is a look-alike that must not be reported.
SLOT_ENTITY = {
    "PERSON": "PERSON",
    "PERSON_FIRST": "PERSON",
    "PHONE": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
}
GOAL = {"PERSON": (0.90, 0.90), "PHONE_NUMBER": (0.90, 0.90)}  # entity: (recall, precision) floors

# --------------------------------------------------------------------------------------------- shared


def _fill(template: str, fillers: dict[str, Callable[[random.Random], str]], rng: random.Random) -> Labelled:
    """`template` with each {SLOT} filled; slots named after an entity type become gold spans. A filler may
    return "prefix\x00value" to put a non-PII prefix (a title) before the labelled value."""
    text, spans, at = "", [], 0
    while (start := template.find("{", at)) != -1:
        end = template.index("}", start)
        slot = template[start + 1 : end]
        text += template[at:start]
        value = fillers[slot](rng)
        entity = SLOT_ENTITY.get(slot)
        if "\x00" in value:
            prefix, value = value.split("\x00", 1)
            text += prefix
        if entity is not None:
            spans.append((entity, len(text), len(text) + len(value)))
        text += value
        at = end + 1
    text += template[at:]
    return Labelled(text, tuple(spans))


def _generate(
    count: int,
    seed: int,
    templates: Sequence[str],
    negatives: Sequence[str],
    fillers: dict[str, Callable[[random.Random], str]],
    negative_share: float = 0.2,
) -> list[Labelled]:
    rng = random.Random(seed)
    return [
        _fill(rng.choice(negatives if rng.random() < negative_share else templates), fillers, rng) for _ in range(count)
    ]


def _email_from(name: str, rng: random.Random, domains: Sequence[str]) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    parts = [p for p in "".join(ch if ch.isalnum() else " " for ch in ascii_name).split() if p] or ["info"]
    first, last = parts[0], parts[-1]
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}.{first[0]}"))
    return f"{local}@{rng.choice(domains)}"


# ---------------------------------------------------------------------------------- source A: Faker

TUNING_NAME_LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "de_DE",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pl_PL",
    "sv_SE",
    "en_IN",
    "en_NG",
    "ja_JP",
    "zh_CN",
)
TUNING_PHONE_LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pl_PL",
    "sv_SE",
    "en_IN",
    "ja_JP",
    "zh_CN",
    "en_AU",
    "de_CH",
    "ko_KR",
)


@functools.lru_cache(maxsize=64)
def _faker(locale: str) -> Any:
    from faker import Faker

    return Faker(locale)


def _faker_name_parts(locale: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Latin-script first and last names of a Faker locale (romanized lists where Faker has them)."""
    import importlib

    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    first = getattr(provider, "first_romanized_names", None) or provider.first_names
    last = getattr(provider, "last_romanized_names", None) or provider.last_names
    return tuple(first), tuple(last)


def _faker_seeded(rng: random.Random, locale: str) -> Any:
    fake = _faker(locale)
    fake.seed_instance(rng.randrange(1 << 30))
    return fake


def tuning_person(rng: random.Random) -> str:
    locale = rng.choice(TUNING_NAME_LOCALES)
    first, last = _faker_name_parts(locale)
    f, l_ = rng.choice(first), rng.choice(last)
    style = rng.random()
    if style < 0.7:
        return f"{f} {l_}"
    if style < 0.82:
        return f"{f} {rng.choice(first)} {l_}"
    if style < 0.94:
        return rng.choice(("Mr. ", "Ms. ", "Dr. ", "Mrs. ", "Prof. ")) + "\x00" + l_
    return f"{f[0]}. {l_}"


def tuning_first(rng: random.Random) -> str:
    return rng.choice(_faker_name_parts(rng.choice(TUNING_NAME_LOCALES))[0])


def tuning_phone(rng: random.Random) -> str:
    return str(_faker_seeded(rng, rng.choice(TUNING_PHONE_LOCALES)).phone_number())


def _tuning_email(rng: random.Random) -> str:
    name = tuning_person(rng).replace("\x00", "")
    return _email_from(name, rng, ("example.com", "mail.example.org", "acme.co.uk", "corp.example.net"))


def tuning_product(rng: random.Random) -> str:
    """Product-like names from Faker: brand (a surname or word) and model, often with a number."""
    fake = _faker_seeded(rng, "en_US")
    brand = rng.choice((str(fake.last_name()), str(fake.word()).title(), str(fake.color_name())))
    model = rng.choice(
        (str(fake.word()).title(), f"{fake.word().title()} {rng.randint(2, 20)}", f"X{rng.randint(1, 9)}", "Pro", "")
    )
    version = rng.choice(("", "", f" {rng.randint(2, 15)}", f" {rng.choice(('S', 'GT', 'LX', 'Max', 'Plus'))}"))
    return f"{brand} {model}".strip() + version


TUNING_FILLERS: dict[str, Callable[[random.Random], str]] = {
    "PERSON": tuning_person,
    "PERSON_FIRST": tuning_first,
    "PHONE": tuning_phone,
    "EMAIL_ADDRESS": _tuning_email,
    "CREDIT_CARD": credit_card,
    "IBAN_CODE": iban,
    "ORG": lambda r: str(_faker_seeded(r, r.choice(TUNING_NAME_LOCALES[:12])).company()),
    "CITY": lambda r: str(_faker_seeded(r, r.choice(TUNING_NAME_LOCALES[:12])).city()),
    "STREET": lambda r: str(_faker_seeded(r, r.choice(("en_US", "en_GB", "de_DE", "fr_FR"))).street_address()).replace(
        "\n", ", "
    ),
    "JOB": lambda r: str(_faker_seeded(r, "en_US").job()),
    "PRODUCT": tuning_product,
    "COUNTRY": lambda r: str(_faker_seeded(r, "en_US").country()),
    "SLOGAN": lambda r: str(_faker_seeded(r, "en_US").catch_phrase()).title(),
    "ORDER": lambda r: rng_choice_fmt(r, ("#{n6}", "A-{n4}-{n4}", "PO {n10}", "{n8}", "SO-{n7}")),
    "INVOICE": lambda r: rng_choice_fmt(r, ("INV-2024-{n5}", "RE{n9}", "{n4}/{n2}")),
    "DATE": lambda r: rng_choice_fmt(r, ("2024-{mm}-{dd}", "{dd}.{mm}.2025", "{mm}/{dd}/2023", "March {dd}, 2024")),
    "AMOUNT": lambda r: rng_choice_fmt(r, ("€{n4}.{n2}", "${n1},{n3}.{n2}", "CHF {n3}", "{n5} EUR")),
    "REFERENCE": lambda r: r.choice((not_a_card(r), rng_choice_fmt(r, ("REF-{n12}", "{n6}-{n3}")))),
    "COUNT": lambda r: str(r.randint(2, 4000)),
    "TIME": lambda r: rng_choice_fmt(r, ("{hh}:{mi}", "{hh}:{mi} CET")),
}

TUNING_TEMPLATES = (
    "Please contact {PERSON} at {EMAIL_ADDRESS} about order {ORDER}.",
    "{PERSON} can be reached on {PHONE} until {DATE}.",
    "Call me back at {PHONE} or write to {EMAIL_ADDRESS}.",
    "Transfer the deposit to {IBAN_CODE}, account holder {PERSON}.",
    "Customer {PERSON} paid with {CREDIT_CARD} on {DATE}.",
    "From: {PERSON} <{EMAIL_ADDRESS}>, mobile {PHONE}",
    "Emergency contact: {PERSON}, {PHONE}.",
    "I spoke with {PERSON} from {ORG} yesterday; she wants the contract by {DATE}.",
    "{PERSON}, our new {JOB}, starts on {DATE} in the {CITY} office.",
    "The meeting with {PERSON} and {PERSON} moved to {TIME}.",
    "Thanks, {PERSON_FIRST}! I'll send the figures to {PERSON} tonight.",
    "Our driver {PERSON} will deliver to {STREET} between {TIME} and {TIME}.",
    "If the line is busy, try {PHONE} instead.",
    "{ORG} confirmed invoice {INVOICE}; questions go to {PERSON} ({PHONE}).",
    "According to {PERSON}, the {CITY} branch closes at {TIME}.",
    "Best regards,\n{PERSON}\n{JOB}, {ORG}\nTel. {PHONE}",
    "Hi {PERSON_FIRST}, can you ask {PERSON} to refund {AMOUNT} to card {CREDIT_CARD}?",
    "The landlord, {PERSON}, wants the rent paid to {IBAN_CODE} by {DATE}.",
    "Reference {REFERENCE} belongs to {PERSON}; the file is with {ORG}.",
    "{PERSON} said the parcel for {STREET} is order {ORDER}.",
    "Phone: {PHONE} | E-mail: {EMAIL_ADDRESS}",
    "{PERSON} will present \u201c{SLOGAN}\u201d at the {CITY} conference.",
    "Mobile number of {PERSON}: {PHONE}",
    "Interview panel: {PERSON}, {PERSON} and {PERSON}.",
    "Please ring {PHONE} to reschedule with {PERSON}.",
    "{PERSON} ({EMAIL_ADDRESS}) approved {COUNT} licences for {ORG}.",
    "The reference letter was signed by {PERSON}, {JOB}.",
    "Out of office until {DATE}; urgent matters: {PERSON}, {PHONE}.",
    "Complaint from {PERSON} about order {ORDER} ({AMOUNT}).",
    "Pay {AMOUNT} by card {CREDIT_CARD} or to {IBAN_CODE}.",
    "Account holder: {PERSON}\nReference: {REFERENCE}\nPhone: {PHONE}",
    "{PERSON} bought a {PRODUCT} and wants to return it; call back on {PHONE}.",
    "Attendees: {PERSON}, {PERSON}. Subject: {SLOGAN}.",
    "{PERSON} moved from {COUNTRY} to {CITY} and now works on the {PRODUCT} team.",
    "Note from {PERSON}: the {PRODUCT} demo in {CITY} is cancelled.",
)
TUNING_NEGATIVES = (
    "{ORG} opened a new office in {CITY} on {DATE}.",
    "Order {ORDER} of {AMOUNT} ships on {DATE}; see invoice {INVOICE}.",
    "{SLOGAN}: a workshop for every {JOB} at {ORG}.",
    "Reference {REFERENCE}, {COUNT} items, delivered to {STREET} at {TIME}.",
    "The {CITY} team of {ORG} closed {COUNT} tickets before {DATE}.",
    "Release notes: {PRODUCT} now supports {PRODUCT}; {ORG} tested it in {COUNTRY}.",
    "Subject: {SLOGAN}\nStatus: done\nOwner: {ORG}",
    "Shipping {COUNT} units of {PRODUCT} to {CITY}, {COUNTRY} on {DATE}.",
)


def tuning_set(count: int = 400, seed: int = 1) -> list[Labelled]:
    """Source A: Faker (see the module docstring). Thresholds and rules were chosen on this set only."""
    return _generate(count, seed, TUNING_TEMPLATES, TUNING_NEGATIVES, TUNING_FILLERS)


# ---------------------------------------------------------------------------- source B: mimesis etc.

EVAL_NAME_LOCALES = (
    "en",
    "en-gb",
    "en-au",
    "en-ca",
    "de",
    "de-at",
    "de-ch",
    "fr",
    "it",
    "es",
    "es-mx",
    "pt",
    "pt-br",
    "nl",
    "pl",
    "cs",
    "sk",
    "hu",
    "hr",
    "da",
    "sv",
    "no",
    "fi",
    "et",
    "is",
    "tr",
    "az",
    "ru",
    "uk",
    "kk",
)
_ROMANIZED = ("ru", "uk", "kk")


def _mimesis_dir() -> Path:
    import mimesis

    return Path(mimesis.__file__).parent / "datasets"


@functools.lru_cache(maxsize=64)
def _mimesis_people(locale: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """gender -> (first names, surnames), romanized for Cyrillic locales."""
    data = json.loads((_mimesis_dir() / locale / "person.json").read_text(encoding="utf-8"))
    latin: Callable[[str], str] = str
    if locale in _ROMANIZED:
        from mimesis.enums import Locale
        from mimesis.keys import romanize

        latin = romanize(Locale(locale))
    out = {}
    for gender in ("female", "male"):
        names = data["names"][gender] if isinstance(data["names"], dict) else data["names"]
        surnames = data["surnames"][gender] if isinstance(data["surnames"], dict) else data["surnames"]
        out[gender] = (tuple(latin(n) for n in names), tuple(latin(s) for s in surnames))
    return out


def _eval_name(rng: random.Random) -> tuple[str, str, str, str]:
    """(first, second first, last, title) from a random mimesis locale, gender-consistent."""
    locale = rng.choice(EVAL_NAME_LOCALES)
    gender = rng.choice(("female", "male"))
    first, last = _mimesis_people(locale)[gender]
    title = rng.choice(("Ms ", "Mrs ", "Dr ", "Prof. ") if gender == "female" else ("Mr ", "Dr ", "Prof. ", "Sir "))
    return rng.choice(first), rng.choice(first), rng.choice(last), title


def eval_person(rng: random.Random) -> str:
    first, second, last, title = _eval_name(rng)
    style = rng.random()
    if style < 0.7:
        return f"{first} {last}"
    if style < 0.8:
        return f"{first} {second} {last}"
    if style < 0.9:
        return title + "\x00" + f"{first} {last}" if rng.random() < 0.5 else title + "\x00" + last
    return f"{first[0]}. {last}"


def eval_first(rng: random.Random) -> str:
    return _eval_name(rng)[0]


# Styles of writing a number (none is Faker's): how people and signatures write them.
EVAL_PHONE_STYLES = (
    "international",
    "international_dashes",
    "international_dots",
    "international_trunk0",
    "e164",
    "double_zero",
    "national",
    "national_dashes",
    "national_compact",
)


@functools.lru_cache(maxsize=1)
def _phone_regions() -> tuple[str, ...]:
    """Regions with example numbers of at least 7 digits (~200): a 5-digit number of an island state
    ("22885") is indistinguishable from any other number, in text as for a reader."""
    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        examples = [e for k in kinds if (e := phonenumbers.example_number_for_type(region, k)) is not None]
        if examples and all(len(phonenumbers.national_significant_number(e)) >= 7 for e in examples):
            out.append(region)
    return tuple(out)


def _varied_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    kinds = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
    rng.shuffle(kinds)
    example = next(e for k in kinds if (e := phonenumbers.example_number_for_type(region, k)) is not None)
    national = str(example.national_number)
    lead = "0" * (example.number_of_leading_zeros or 0) if example.italian_leading_zero else ""
    for _ in range(60):
        keep = max(2, len(national) - 5)
        candidate = national[:keep] + "".join(rng.choice(string.digits) for _ in range(len(national) - keep))
        number = phonenumbers.parse(f"+{example.country_code}{lead}{candidate}")
        if phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == region:
            return number
    return example


def eval_phone(rng: random.Random, style: str | None = None) -> str:
    number = _varied_number(rng, rng.choice(_phone_regions()))
    fmt = phonenumbers.PhoneNumberFormat
    style = style or rng.choice(EVAL_PHONE_STYLES)
    intl = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    national = phonenumbers.format_number(number, fmt.NATIONAL)
    if style == "international":
        return intl
    if style == "international_dashes":
        return intl.replace(" ", "-", intl.count(" ")).replace("+-", "+", 1)
    if style == "international_dots":
        head, _, rest = intl.partition(" ")
        return head + " " + rest.replace(" ", ".").replace("-", ".")
    if style == "international_trunk0":  # "+44 (0)20 7946 0958", how European signatures write it
        nsn = phonenumbers.national_significant_number(number)
        if national.lstrip("(").startswith("0") and not nsn.startswith("0"):
            head, _, rest = intl.partition(" ")
            return f"{head} (0){rest}" if rng.random() < 0.5 else f"{head} (0) {rest}"
        return intl
    if style == "e164":
        return phonenumbers.format_number(number, fmt.E164)
    if style == "double_zero":
        return "00" + intl[1:]
    if style == "national_dashes":
        return national.replace(" ", "-").replace("(", "").replace(")", "")
    if style == "national_compact":
        return "".join(ch for ch in national if ch.isdigit())
    return national


def _eval_email(rng: random.Random) -> str:
    first, _, last, _ = _eval_name(rng)
    return _email_from(
        f"{first} {last}", rng, ("example.net", "firma.de", "post.example.com", "team.example.org", "mail.example.fr")
    )


@functools.lru_cache(maxsize=1)
def _mimesis_lists() -> dict[str, tuple[str, ...]]:
    from mimesis.datasets.int.development import PROGRAMMING_LANGS
    from mimesis.datasets.int.finance import STOCK_NAMES
    from mimesis.datasets.int.hardware import PHONE_MODELS
    from mimesis.datasets.int.transport import CARS

    base = _mimesis_dir()
    companies: list[str] = []
    cities: list[str] = []
    streets: list[str] = []
    jobs: list[str] = []
    for locale in ("en", "en-gb", "de", "fr", "es", "it", "nl", "sv", "pl", "tr", "cs"):
        finance = json.loads((base / locale / "finance.json").read_text(encoding="utf-8"))
        company = finance.get("company", {})
        companies.extend(company.get("name", []) if isinstance(company, dict) else company)
        address = json.loads((base / locale / "address.json").read_text(encoding="utf-8"))
        cities.extend(address.get("city", []))
        street = address.get("street", {})
        names = street.get("name", []) if isinstance(street, dict) else []
        suffixes = street.get("suffix", []) if isinstance(street, dict) else []
        streets.extend(f"{n} {suffixes[i % len(suffixes)]}" for i, n in enumerate(names) if suffixes)
        if not suffixes:
            streets.extend(names)
        person = json.loads((base / locale / "person.json").read_text(encoding="utf-8"))
        if locale == "en":
            jobs.extend(person.get("occupation", []))
    return {
        "ORG": tuple(companies) + tuple(s for s in STOCK_NAMES if not any(ch.isdigit() for ch in s)),
        "CITY": tuple(cities),
        "STREET": tuple(streets),
        "JOB": tuple(jobs),
        "PRODUCT": tuple(PHONE_MODELS) + tuple(CARS) + tuple(PROGRAMMING_LANGS),
    }


EVAL_FILLERS: dict[str, Callable[[random.Random], str]] = {
    "PERSON": eval_person,
    "PERSON_FIRST": eval_first,
    "PHONE": eval_phone,
    "EMAIL_ADDRESS": _eval_email,
    "CREDIT_CARD": credit_card,
    "IBAN_CODE": iban,
    "ORG": lambda r: r.choice(_mimesis_lists()["ORG"]),
    "CITY": lambda r: r.choice(_mimesis_lists()["CITY"]),
    "STREET": lambda r: f"{r.randint(1, 240)} {r.choice(_mimesis_lists()['STREET'])}",
    "JOB": lambda r: r.choice(_mimesis_lists()["JOB"]),
    "PRODUCT": lambda r: r.choice(_mimesis_lists()["PRODUCT"]),
    # Look-alike numbers in formats the tuning set does not use.
    "ORDER": lambda r: rng_choice_fmt(r, ("ORD-{n3}-{n4}-{n3}", "No. {n7}", "{n3} {n3} {n4}", "#{n4}-{n2}")),
    "TRACKING": lambda r: rng_choice_fmt(r, ("1Z{n3}AA{n10}", "JJD{n12}", "{n4} {n4} {n4} {n2}")),
    "CUSTOMER": lambda r: rng_choice_fmt(r, ("C-{n8}", "{n3}-{n3}-{n3}", "KD{n6}")),
    "DATE": lambda r: rng_choice_fmt(r, ("{dd}/{mm}/2024", "2025.{mm}.{dd}", "{dd}-{mm}-2023", "{dd} June 2025")),
    "AMOUNT": lambda r: rng_choice_fmt(r, ("USD {n1},{n3}.{n2}", "{n1}.{n3},{n2} €", "£{n3}.{n2}", "{n4},- SEK")),
    "QUANTITY": lambda r: rng_choice_fmt(r, ("{n1},{n3},{n3}", "{n2}.{n1}%", "{n3} kg", "{n2} x {n2} cm")),
    "SERIAL": lambda r: rng_choice_fmt(r, ("SN {n4}-{n4}-{n4}", "ISBN 978-{n1}-{n3}-{n5}-{n1}", "{n2}-{n7}-{n1}")),
    "PERIOD": lambda r: rng_choice_fmt(r, ("2019-2024", "Q{n1} 2025", "FY2024/25", "{hh}:{mi}-{hh}:{mi}")),
    "POSTCODE": lambda r: rng_choice_fmt(r, ("{n5}", "{n4} AB", "{n3} {n2}", "{n5}-{n4}")),
    "ROOM": lambda r: rng_choice_fmt(r, ("{n1}.{n2}", "B{n3}", "{n1}-{n3}")),
}

EVAL_TEMPLATES = (
    "hey, just got off the phone with {PERSON} - he wants a callback on {PHONE} before {DATE}",
    "Minutes: {PERSON} (chair), {PERSON}, {PERSON}. Apologies: {PERSON}.",
    "Kind regards\n\n{PERSON}\n{JOB} | {ORG}\nM {PHONE}\n{EMAIL_ADDRESS}",
    "Could someone at {ORG} forward this to {PERSON}? Her direct line is {PHONE}.",
    "Ticket {ORDER}: customer {PERSON} reports that {PRODUCT} stopped syncing. Callback: {PHONE}",
    "{PERSON} joined {ORG} as {JOB} after twelve years in {CITY}.",
    "Dear {PERSON},\nthank you for your order {ORDER} of {AMOUNT}.",
    "New lead from the {CITY} fair: {PERSON}, {ORG}, {PHONE}, {EMAIL_ADDRESS}.",
    "Please add {PERSON} to the distribution list; {PERSON_FIRST} replaces {PERSON} from {DATE}.",
    "The keys are with the caretaker, {PERSON}, room {ROOM}, tel {PHONE}.",
    "Shipment {TRACKING} to {STREET}, {CITY} {POSTCODE} was signed for by {PERSON}.",
    "Whatsapp me on {PHONE} if the {PRODUCT} arrives damaged.",
    "Refund {AMOUNT} to {PERSON}, IBAN {IBAN_CODE}, customer {CUSTOMER}.",
    "Cardholder: {PERSON}\nCard: {CREDIT_CARD}\nAmount: {AMOUNT}",
    "{PERSON} wrote that the {ORG} audit for {PERIOD} is done.",
    "I'm {PERSON_FIRST}, you can reach me at {PHONE} or {EMAIL_ADDRESS} :)",
    "Speakers: {PERSON} ({ORG}) and {PERSON} ({ORG}).",
    "Per {PERSON}'s note, serial {SERIAL} goes back to {ORG} in {CITY}.",
    "Landline {PHONE}, mobile {PHONE}.",
    "{PERSON} and {PERSON} met the {ORG} team in {CITY} on {DATE}.",
    "Missed call from {PHONE} at {PERIOD} - probably {PERSON} about the {PRODUCT} offer.",
    "Approved by {PERSON} on {DATE}; payment of {AMOUNT} to {IBAN_CODE}.",
    "Who is {PERSON}? She keeps emailing {EMAIL_ADDRESS} about {QUANTITY} of stock.",
    "The tenant {PERSON} ({PHONE}) pays rent from {IBAN_CODE}.",
    "Contact person on site: {PERSON}, {JOB}, phone {PHONE}.",
    "{PERSON} paid {AMOUNT} with card {CREDIT_CARD}; receipt sent to {EMAIL_ADDRESS}.",
    "Our {JOB}, {PERSON}, will visit {STREET} on {DATE}.",
    "For questions about customer {CUSTOMER} ask {PERSON} or call the hotline {PHONE}.",
    "Pls call {PERSON} back - {PHONE}",
    "The award went to {PERSON} of {ORG} for the {PRODUCT} launch.",
    "Signed: {PERSON}, {CITY}, {DATE}",
    "{PERSON_FIRST} said {PERSON} still owes {AMOUNT} for order {ORDER}.",
    "Tel.: {PHONE} / Fax: {PHONE}",
    "Handover from {PERSON} to {PERSON}: {QUANTITY}, rack {ROOM}, serial {SERIAL}.",
    "{ORG} hired {PERSON} to lead the {CITY} office from {PERIOD}.",
    "Reach {PERSON} via {EMAIL_ADDRESS}; in emergencies {PHONE}.",
    "Thanks {PERSON_FIRST}! Forwarding to {PERSON}.",
    "Driver {PERSON} ({PHONE}) picks up {QUANTITY} at {STREET}.",
    "Visitor badge for {PERSON}, host {PERSON}, room {ROOM}.",
    "{PERSON} from {CITY} asked whether {PRODUCT} supports {ORG} accounts.",
)
EVAL_NEGATIVES = (
    "{ORG} moved its {CITY} warehouse to {STREET} in {PERIOD}.",
    "Order {ORDER}: {QUANTITY} of {PRODUCT}, {AMOUNT}, shipped {DATE} via {TRACKING}.",
    "Customer {CUSTOMER}, postcode {POSTCODE}, room {ROOM}, serial {SERIAL}.",
    "{PRODUCT} sales at {ORG} grew {QUANTITY} in {PERIOD}.",
    "Every {JOB} in {CITY} must register before {DATE}.",
    "{ORG} and {ORG} signed the {CITY} agreement on {DATE}.",
)


def evaluation_set(count: int = 500, seed: int = 2) -> list[Labelled]:
    """Source B: mimesis names and lists, libphonenumber example numbers, other templates (module docstring)."""
    return _generate(count, seed, EVAL_TEMPLATES, EVAL_NEGATIVES, EVAL_FILLERS)


# ------------------------------------------------------------------------------------------- metrics


def _flatten(scores: dict[str, Score], prefix: str, suffix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for entity in REPORTED:
        s = scores[entity]
        out[f"{prefix}recall_{entity}{suffix}"] = round(s.recall, 4)
        out[f"{prefix}precision_{entity}{suffix}"] = round(s.precision, 4)
        out[f"{prefix}gold_{entity}{suffix}"] = s.gold
    return out


def pii_metrics(
    detector: PiiDetector | None = None,
    eval_count: int = 500,
    tuning_count: int = 400,
    seed: int = 2,
    with_scores: dict[str, dict[str, Score]] | None = None,
) -> dict[str, float]:
    """Recall/precision per entity on the held-out evaluation set (`pii_recall_PERSON`, ...), the same on the
    tuning set labelled in-sample (`pii_recall_PERSON_insample`, ...), and ms per text. `with_scores`, when
    given, receives the full Score objects (misses and false findings) under "eval" and "tuning"."""
    if detector is None:
        from services.core.pii.detector import load_detector

        detector = load_detector()
    held_out = evaluation_set(eval_count, seed)
    tuning = tuning_set(tuning_count, seed - 1)
    started = time.perf_counter()
    eval_scores = score(held_out, detector.detect_many([s.text for s in held_out]))
    elapsed = time.perf_counter() - started
    tuning_scores = score(tuning, detector.detect_many([s.text for s in tuning]))
    if with_scores is not None:
        with_scores["eval"] = eval_scores
        with_scores["tuning"] = tuning_scores
    out = _flatten(eval_scores, "pii_")
    out.update(_flatten(tuning_scores, "pii_", "_insample"))
    out["pii_eval_sentences"] = len(held_out)
    out["pii_ms_per_text_batched"] = round(elapsed * 1000 / max(1, len(held_out)), 2)
    return out


def person_threshold_sweep(
    detector: PiiDetector,
    thresholds: Sequence[float] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75),
    count: int = 800,
    seed: int = 1,
) -> dict[str, dict[float, tuple[float, float]]]:
    """PERSON (recall, precision) per score threshold on the tuning set only, three ways: with the name lists as
    shipped ("in_lists": every tuning name is known); with the tuning locales' names removed from Faker's lists
    only ("other_lists": what the independent lists, gender-guesser and the census, know of another source's
    names); and with them removed from every list and from the letter model
    ("out_of_lists": names no list has). PERSON_THRESHOLD (names.py) is the threshold with the best mean F1 of
    "in_lists" and "out_of_lists". The detector's own lists and threshold are left as they were."""
    import dataclasses

    from services.core.pii.names import NameSources, gazetteer, name_sources

    scorer = detector.person_scorer
    shipped, threshold = scorer.g, scorer.threshold
    held: set[str] = set()
    for locale in TUNING_NAME_LOCALES:
        first, last = _faker_name_parts(locale)
        held.update(part.casefold() for name in first + last for part in name.replace("-", " ").split())
    sources = name_sources()
    other = dataclasses.replace(sources, faker_first=sources.faker_first - held, faker_last=sources.faker_last - held)
    none = NameSources(*(names - held for names in dataclasses.astuple(sources)))
    nlp = detector.spacy_pipeline
    sentences = tuning_set(count, seed)
    out: dict[str, dict[float, tuple[float, float]]] = {}
    try:
        scorer.threshold = min(thresholds)
        for label, lists in (
            ("in_lists", shipped),
            ("other_lists", gazetteer(nlp, other)),
            ("out_of_lists", gazetteer(nlp, none)),
        ):
            scorer.g = lists
            predicted = detector.detect_many([s.text for s in sentences])
            out[label] = {}
            for t in thresholds:
                kept = [[p for p in found if p.entity != "PERSON" or p.score >= t] for found in predicted]
                s = score(sentences, kept)["PERSON"]
                out[label][t] = (round(s.recall, 4), round(s.precision, 4))
    finally:
        scorer.g, scorer.threshold = shipped, threshold
    return out
