"""Labelled sentences for measuring the PII detector, generated offline and reproducibly (a seed), and the
recall/precision of a detector on them. Used by bench/pii.py and tests/api/test_pii.py as the "legacy" set;
the tuning and held-out sets of different sources, and `pii_metrics()`, are in services/eval/pii_sets.py.

Every value is valid where validity is checkable (phone numbers per libphonenumber, Luhn card numbers,
mod-97 IBANs), so a miss is the detector's fault. Sentences also carry look-alikes that are not personal
data (order and invoice numbers, dates, amounts, version strings, a 16-digit reference failing Luhn) to
measure precision where it is at risk."""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import phonenumbers

from services.core.pii.detector import PiiDetector, PiiSpan

GOAL_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE")

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "Michael",
    "Jennifer",
    "David",
    "Linda",
    "Thomas",
    "Sarah",
    "Daniel",
    "Laura",
    "Paul",
    "Emma",
    "Mark",
    "Olivia",
    "Hans",
    "Greta",
    "Jürgen",
    "Anna",
    "Pierre",
    "Camille",
    "Giulia",
    "Marco",
    "Carlos",
    "Lucía",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Kenji",
    "Yuki",
    "Ahmed",
    "Fatima",
    "Olga",
    "Dmitri",
    "Sean",
    "Aoife",
    "Lars",
    "Ingrid",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "White",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Lefèvre",
    "Rossi",
    "Bianchi",
    "García",
    "Fernández",
    "Patel",
    "Sharma",
    "Chen",
    "Wang",
    "Tanaka",
    "Suzuki",
    "Khan",
    "Hassan",
    "Ivanova",
    "Petrov",
    "Murphy",
    "O'Brien",
    "Andersen",
    "Nilsson",
]
DOMAINS = [
    "example.com",
    "acme-corp.de",
    "mail.example.org",
    "contoso.co.uk",
    "fabrikam.fr",
    "post.example.ch",
    "tailspin-toys.nl",
    "example.io",
    "widgets.example.es",
    "gmail.com",
    "outlook.com",
    "company.it",
]
PHONE_REGIONS = ("US", "GB", "DE", "FR", "CH", "NL", "ES", "IT", "AT")
IBAN_LAYOUTS = {  # country: (length of the BBAN, its characters: n digit, a upper letter, c either)
    "DE": "nnnnnnnnnnnnnnnnnn",
    "GB": "aaaannnnnnnnnnnnnn",
    "FR": "nnnnnnnnnnnnnnnnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn",
    "NL": "aaaannnnnnnnnn",
    "IT": "a" + "n" * 10 + "c" * 12,
    "CH": "nnnnnnnnnnnnnnnnn",
    "AT": "nnnnnnnnnnnnnnnn",
    "BE": "nnnnnnnnnnnn",
}

TEMPLATES = (
    "Please contact {PERSON} at {EMAIL_ADDRESS} about order {ORDER}.",
    "{PERSON} can be reached on {PHONE_NUMBER} until {DATE}.",
    "Call me back at {PHONE_NUMBER} or write to {EMAIL_ADDRESS}.",
    "The refund of {AMOUNT} goes to IBAN {IBAN_CODE} (invoice {INVOICE}).",
    "Transfer the deposit to {IBAN_CODE}, account holder {PERSON}.",
    "My card number is {CREDIT_CARD}, expiring {EXPIRY}.",
    "Charge {AMOUNT} to the card {CREDIT_CARD} for ticket {TICKET}.",
    "Customer {PERSON} paid with {CREDIT_CARD} on {DATE}.",
    "Send the signed contract to {EMAIL_ADDRESS} before {DATE}.",
    "Version {VERSION} fixed the bug {PERSON} reported from {EMAIL_ADDRESS}.",
    "Reach our office on {PHONE_NUMBER}; reference {REFERENCE}.",
    "Salary account: {IBAN_CODE}. Questions to {PHONE_NUMBER}.",
    "From: {PERSON} <{EMAIL_ADDRESS}>, mobile {PHONE_NUMBER}",
    "The server at {IP_ADDRESS} was upgraded to {VERSION} on {DATE}.",
    "Order {ORDER} of {AMOUNT} was shipped to {PERSON}.",
    "Invoice {INVOICE} dated {DATE}: {AMOUNT}, pay to {IBAN_CODE}.",
    "Emergency contact: {PERSON}, {PHONE_NUMBER}.",
    "{PERSON} asked whether {CREDIT_CARD} can be refunded.",
    "Ticket {TICKET}: login failures from {IP_ADDRESS} for {EMAIL_ADDRESS}.",
    "Our bank details are {IBAN_CODE}; card payments use {CREDIT_CARD}.",
)
# Look-alikes that must not be reported (the slot names are not entity types).
NEGATIVE_ONLY = (
    "Order {ORDER} of {AMOUNT} ships on {DATE}.",
    "Release {VERSION} is due on {DATE}; see ticket {TICKET}.",
    "Invoice {INVOICE} for {AMOUNT}, reference {REFERENCE}.",
    "Build {VERSION} passed {COUNT} of {COUNT} tests at {TIME}.",
)


@dataclass(frozen=True)
class Labelled:
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (entity, start, end)


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def not_a_card(rng: random.Random) -> str:
    """Sixteen digits grouped like a card number, failing the Luhn check (a bank reference, say)."""
    valid = _luhn_complete(rng, str(rng.randint(3, 6)), 16)
    number = valid[:-1] + str((int(valid[-1]) + rng.randint(1, 9)) % 10)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def credit_card(rng: random.Random) -> str:
    brand = rng.choice(("visa", "mastercard", "mastercard2", "amex", "discover"))
    prefix, length = {
        "visa": ("4", 16),
        "mastercard": (str(rng.randint(51, 55)), 16),
        "mastercard2": (str(rng.randint(2221, 2720)), 16),
        "amex": (rng.choice(("34", "37")), 15),
        "discover": ("6011", 16),
    }[brand]
    number = _luhn_complete(rng, prefix, length)
    style = rng.choice(("spaces", "dashes", "plain"))
    if style == "plain":
        return number
    groups = [number[:4], number[4:10], number[10:]] if length == 15 else [number[i : i + 4] for i in range(0, 16, 4)]
    return (" " if style == "spaces" else "-").join(groups)


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
    bban = "".join(rng.choice(alphabet[kind]) for kind in IBAN_LAYOUTS[country])
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    if rng.random() < 0.4:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def phone(rng: random.Random) -> str:
    region = rng.choice(PHONE_REGIONS)
    kind = rng.choice((phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE))
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None, region  # every region in PHONE_REGIONS has both kinds
    national = str(example.national_number)
    for _ in range(50):  # vary the subscriber part until libphonenumber calls it valid
        keep = max(2, len(national) - 6)
        candidate = national[:keep] + "".join(rng.choice(string.digits) for _ in range(len(national) - keep))
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            break
    else:
        number = example
    fmt = phonenumbers.PhoneNumberFormat
    style = rng.choice(("international", "national", "e164", "double_zero", "us_styles"))
    if style == "international":
        return phonenumbers.format_number(number, fmt.INTERNATIONAL)
    if style == "e164":
        return phonenumbers.format_number(number, fmt.E164)
    if style == "double_zero":  # 0044 20 ..., the European way of dialling out
        return "00" + phonenumbers.format_number(number, fmt.INTERNATIONAL)[1:]
    if style == "us_styles" and region == "US":
        digits = str(number.national_number)
        return rng.choice(
            (
                f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
            )
        )
    return phonenumbers.format_number(number, fmt.NATIONAL)


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    ascii_only = str.maketrans({"ü": "ue", "ö": "oe", "é": "e", "è": "e", "í": "i", "á": "a", "'": ""})
    first, last = first.lower().translate(ascii_only), last.lower().translate(ascii_only)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}", first))
    return f"{local}@{rng.choice(DOMAINS)}"


def ip_address(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


FILLERS: dict[str, Callable[[random.Random], str]] = {
    "PERSON": person,
    "EMAIL_ADDRESS": email,
    "PHONE_NUMBER": phone,
    "CREDIT_CARD": credit_card,
    "IBAN_CODE": iban,
    "IP_ADDRESS": ip_address,
    # Negatives: numbers and codes that resemble personal data but are not.
    "ORDER": lambda r: rng_choice_fmt(r, ("#{n6}", "A-{n4}-{n4}", "PO {n10}", "{n8}")),
    "INVOICE": lambda r: rng_choice_fmt(r, ("INV-2024-{n5}", "RE{n9}", "{n4}/{n2}")),
    "TICKET": lambda r: rng_choice_fmt(r, ("JIRA-{n4}", "SR-{n7}", "#{n5}")),
    "REFERENCE": lambda r: r.choice((not_a_card(r), rng_choice_fmt(r, ("REF-{n12}", "{n6}-{n3}")))),
    "DATE": lambda r: rng_choice_fmt(r, ("2024-{mm}-{dd}", "{dd}.{mm}.2025", "{mm}/{dd}/2023", "March {dd}, 2024")),
    "EXPIRY": lambda r: rng_choice_fmt(r, ("{mm}/27", "{mm}/2029")),
    "AMOUNT": lambda r: rng_choice_fmt(r, ("€{n4}.{n2}", "${n1},{n3}.{n2}", "CHF {n3}", "{n5} EUR")),
    "VERSION": lambda r: rng_choice_fmt(r, ("v{n1}.{n2}.{n1}", "{n1}.{n1}.{n2}", "2024.{n2}.{n1}")),
    "COUNT": lambda r: str(r.randint(10, 4000)),
    "TIME": lambda r: rng_choice_fmt(r, ("{hh}:{mi}", "{hh}:{mi}:{mi} UTC")),
}


def rng_choice_fmt(rng: random.Random, formats: Sequence[str]) -> str:
    """A look-alike from `formats`: {nK} is K random digits, {mm} {dd} {hh} {mi} date and time fields."""
    out = rng.choice(formats)
    fields = {
        "mm": f"{rng.randint(1, 12):02d}",
        "dd": f"{rng.randint(1, 28):02d}",
        "hh": f"{rng.randint(0, 23):02d}",
        "mi": f"{rng.randint(0, 59):02d}",
    }
    for key, value in fields.items():
        out = out.replace("{" + key + "}", value)
    while "{n" in out:
        start = out.index("{n")
        end = out.index("}", start)
        width = int(out[start + 2 : end])
        digits = str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(width - 1))
        out = out[:start] + digits + out[end + 1 :]
    return out


def generate(count: int, seed: int = 7, negative_share: float = 0.15) -> list[Labelled]:
    """`count` sentences; about `negative_share` of them hold only look-alikes."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        template = rng.choice(NEGATIVE_ONLY if rng.random() < negative_share else TEMPLATES)
        text, spans, at = "", [], 0
        while (start := template.find("{", at)) != -1:
            end = template.index("}", start)
            slot = template[start + 1 : end]
            text += template[at:start]
            value = FILLERS[slot](rng)
            if slot in ENTITY_SLOTS:
                spans.append((slot, len(text), len(text) + len(value)))
            text += value
            at = end + 1
        text += template[at:]
        out.append(Labelled(text, tuple(spans)))
    return out


ENTITY_SLOTS = frozenset(("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"))


@dataclass
class Score:
    gold: int = 0
    found: int = 0  # gold spans overlapped by a prediction of the same type
    predicted: int = 0
    correct: int = 0  # predictions overlapping a gold span of the same type
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(sentences: Sequence[Labelled], predictions: Sequence[Sequence[PiiSpan]]) -> dict[str, Score]:
    """Per entity type; a span counts when it overlaps one of the same type (boundaries may differ by the
    odd bracket: what matters for redaction is that the value is covered)."""
    scores: dict[str, Score] = {entity: Score() for entity in sorted(ENTITY_SLOTS)}
    for sentence, predicted in zip(sentences, predictions, strict=True):
        for entity, start, end in sentence.spans:
            s = scores[entity]
            s.gold += 1
            if any(p.entity == entity and _overlaps((p.start, p.end), (start, end)) for p in predicted):
                s.found += 1
            else:
                s.missed.append(sentence.text[start:end])
        for p in predicted:
            s = scores.setdefault(p.entity, Score())
            s.predicted += 1
            if any(e == p.entity and _overlaps((p.start, p.end), (a, b)) for e, a, b in sentence.spans):
                s.correct += 1
            else:
                s.false.append(p.text)
    return scores


def evaluate(detector: PiiDetector, sentences: Sequence[Labelled]) -> dict[str, Score]:
    return score(sentences, detector.detect_many([s.text for s in sentences]))
