"""Phone numbers in running text, from any country, in international or national writing.

presidio's PhoneRecognizer asks libphonenumber for *valid* numbers of a few regions; a national number from
elsewhere ("03-1234-5678", "(11) 91234-5678") is never tried, and a number written with dots or "(0)" is
often not extracted. Here:

- candidates are runs of digits with the separators people write (space, -, ., /, parentheses, a leading
  + or 00, an extension), split where they cannot belong to one number;
- an **international** number (+CC, 00CC) is read by libphonenumber without a region: valid, or at least of
  a possible length for its country when written like a phone number, it is one;
- a **national** number cannot be validated: libphonenumber finds almost any 7-11 digits valid in a dozen
  regions. So shape and context decide: a trunk 0, an area code in parentheses, NANP grouping, groups of
  2-4 digits, or a phone word just before ("tel", "mobile", "call", "whatsapp"...);
- a number right after a person's name ("Jie Dai (14909802957)", "Miki Maeda, 18796354706") or right before an
  e-mail address is a contact detail, as if a phone word stood before it (the detector passes the names);
- the words before it can also say it is *not* a phone number ("order", "invoice", "customer", "serial",
  "ISBN", "postcode"...): the nearest cue wins. Dates, times, year ranges, decimal amounts are rejected.

Rules were chosen on the tuning set (services/eval/pii_sets.py, source A: Faker's numbers); the held-out set
(source B: libphonenumber's example numbers of ~200 regions in nine writings) measures them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Digits with phone punctuation; must not be glued to a word, another number, or a code ("ORD-", "#").
_CANDIDATE = re.compile(
    r"(?<![\w+#@/\\.,\-])"
    r"(?:(?:\+|00)[ \u00a0]?)?"
    r"\(?\+?\d[\d \u00a0\-.()/\u2011\u2013]*\d"
    r"(?:[ \u00a0]?(?:x|ext\.?|extn?\.?|extension|#)[ \u00a0]?\d{1,6})?"
    r"(?![\w@]|[.,]\d)"
)
_EXTENSION = re.compile(r"[ \u00a0]?(?:x|ext\.?|extn?\.?|extension|#)[ \u00a0]?\d{1,6}$", re.I)
_GROUP = re.compile(r"\d+")
_DATE = re.compile(
    r"\(?(?:\d{1,2}[./\-]\d{1,2}[./\-](?:19|20)?\d{2}|(?:19|20)\d{2}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./]\d{4})\)?"
)
_YEARS = re.compile(r"(?:19|20)\d{2} ?[\-/\u2013] ?(?:19|20)?\d{2}")
_DECIMAL = re.compile(r"\d{1,3}(?:[.,]\d{3})*[.,]\d{1,2}|\d+[.,]\d{1,2}")
_TIME = re.compile(r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?")

# The nearest of these words before a number says what it is.
PHONE_WORDS = _words(
    """phone phones telephone tel tel. tele ph call calls called calling callback ring mobile mob mobil cell
    cellphone handy fax landline line hotline helpline whatsapp wa sms text dial reach contact direct
    switchboard office m t p f voip viber signal telegram"""
)
NOT_PHONE_WORDS = _words(
    """order orders ord invoice inv ref reference ticket tickets customer cust client account acct iban bic swift
    card serial sn s/n isbn issn ean upc sku tracking shipment parcel consignment po id case item part
    version build zip postcode postal plz room booking contract policy claim batch lot tax vat ssn passport
    licence license patent loan transaction receipt voucher coupon code pin reg registration article art model
    imei vin"""
)
_WORD = re.compile(r"[^\W\d_]+(?:[./][^\W\d_]+)?\.?", re.UNICODE)


@dataclass(frozen=True)
class PhoneFinding:
    start: int
    end: int
    score: float


def _context(text: str, start: int) -> str:
    """'phone', 'not', or '' from the nearest cue word in the ~4 words (same line) before `start`."""
    window = text[max(0, start - 48) : start]
    window = re.split(r"\n|[.;!?]\s+(?=[A-Z])", window)[-1]  # this sentence and line only
    words = [w.casefold().rstrip(".") for w in _WORD.findall(window)][-4:]
    said_number = False
    for word in reversed(words):
        if word in ("number", "numbers", "no", "nr", "nº"):
            # "order number/no." is an order's, "phone number/no." a phone's; "my number" alone a phone's
            said_number = said_number or word.startswith("number")
            continue
        if word in NOT_PHONE_WORDS:
            return "not"
        stem = re.sub(r"(?:s|ed|ing|able)$", "", word)
        if word in PHONE_WORDS or stem in PHONE_WORDS:
            return "phone"
    return "phone" if said_number else ""


def _split(candidate: str, offset: int) -> Iterator[tuple[str, int]]:
    """A candidate, or its parts where it joins two numbers (" / ", "  ", an extension kept whole)."""
    at = 0
    for part in re.split(r"( +/ +| {2,}| ?\u2013 ?)", candidate):
        if part and not re.fullmatch(r"( +/ +| {2,}| ?\u2013 ?)", part):
            yield part, offset + at
        at += len(part)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _international(value: str) -> bool:
    body = value.lstrip("( ")
    return body.startswith("+") or (body.startswith("00") and not body.startswith("000"))


def _grouped(core: str) -> bool:
    """Written like a phone number: groups separated, none longer than 5 digits except one subscriber block
    after an area code in parentheses or a trunk 0 ("(0161) 4960066", "0837 783533")."""
    groups = _GROUP.findall(core)
    if len(groups) < 2:
        return False
    long = [g for g in groups if len(g) > 5]
    if not long:
        return True
    return len(long) == 1 and long[0] == groups[-1] and len(long[0]) <= 8 and ("(" in core or groups[0][0] == "0")


def _nanp(core: str) -> bool:
    return bool(re.fullmatch(r"(?:\+?1[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}", core))


def classify(value: str, context: str) -> float:
    """A score for `value` (a candidate without its extension) being a phone number; 0 when it is not."""
    core = value.strip(" \u00a0").replace("(0)", "")
    if not core or _DATE.fullmatch(core) or _YEARS.fullmatch(core) or _TIME.fullmatch(core):
        return 0.0
    if _DECIMAL.fullmatch(core):
        return 0.0
    digits = _digits(core)
    if context == "not":
        return 0.0
    if _international(core):
        national_digits = digits[2:] if core.lstrip("( ").startswith("00") else digits
        if not 7 <= len(national_digits) <= 15:
            return 0.0
        try:
            number = phonenumbers.parse("+" + national_digits.lstrip("+"), None)
        except phonenumbers.NumberParseException:
            return 0.0
        if phonenumbers.is_valid_number(number):
            return 0.9
        if phonenumbers.is_possible_number(number) and (len(_GROUP.findall(core)) >= 2 or context == "phone"):
            return 0.6
        return 0.5 if context == "phone" and len(national_digits) >= 8 else 0.0
    if not 7 <= len(digits) <= 12:
        return 0.0
    separated = len(_GROUP.findall(core)) >= 2
    if context == "phone":
        return 0.8 if separated or len(digits) >= 8 else 0.6
    if not separated:
        # A bare run of digits is an id until a phone word says otherwise; except a national number with its
        # trunk 0 ("07466756127"): ids seldom start with 0 and are then marked ("order", "customer").
        return 0.6 if digits[0] == "0" and digits[1] != "0" and 9 <= len(digits) <= 11 else 0.0
    if _nanp(core):
        return 0.65
    if not _grouped(core):
        return 0.0
    trunk = core.lstrip("(")[:1] == "0"
    parenthesised = core.startswith("(")
    groups = _GROUP.findall(core)
    if trunk or parenthesised:
        return 0.6
    if len(groups) >= 3 and all(2 <= len(g) <= 4 for g in groups):
        return 0.55
    return 0.0


# A contact detail next to the number: an e-mail address right after it ("0612345678, ana@example.com").
_EMAIL_AFTER = re.compile(r"^\)?[ \u00a0]*(?:,|;|/|\||or|and)?[ \u00a0]*[^\s@]+@[^\s@]+\.\w")
# What may stand between a name and its number: "Jie Dai (1490...)", "Miki Maeda, 1879...", "Ana Ruiz - 0612...".
_AFTER_NAME = re.compile(r"[ \u00a0]*(?:[,(:\-\u2013][ \u00a0]*)?$")


def _beside_contact(text: str, start: int, end: int, person_ends: frozenset[int]) -> bool:
    """The number follows a person's name (`person_ends`: where names found in the text end) or precedes an
    e-mail address: a contact detail, like a phone word before it."""
    if person_ends:
        gap = _AFTER_NAME.search(text[max(0, start - 4) : start])
        if gap is not None and start - len(gap.group()) in person_ends:
            return True
    return bool(_EMAIL_AFTER.match(text[end : end + 80]))


def find_phone_numbers(text: str, person_ends: frozenset[int] = frozenset()) -> list[PhoneFinding]:
    """Phone numbers in `text`; `person_ends` (character offsets where a person's name ends) makes a number
    right after a name a contact detail: "Jie Dai (14909802957)"."""
    found: list[PhoneFinding] = []
    for match in _CANDIDATE.finditer(text):
        for part, start in _split(match.group(), match.start()):
            extension = _EXTENSION.search(part)
            core = part[: extension.start()] if extension else part
            # Trailing or leading unmatched brackets belong to the sentence, not the number.
            lead = len(core) - len(core.lstrip("( ")) if core.count("(") > core.count(")") else 0
            core = core[lead:] if lead else core
            if core.count(")") > core.count("("):
                core = core.rstrip(") ")
                part = core
            context = _context(text, start + lead)
            if not context and _beside_contact(text, start + lead, start + len(part), person_ends):
                context = "phone"
            score = classify(core, context)
            if score:
                found.append(PhoneFinding(start + lead, start + len(part), score))
    return found
