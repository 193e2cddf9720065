"""What kind of value a question asks for, and whether a sentence states one: the expected answer type of classic
question answering, for English questions.

"How long ..." is answered by a duration, "how much does it cost" by an amount of money, "when" or "which days"
by a time, a date or a day, "how many" by a count. Sentences that only talk about the subject ("Administrators
check out credentials from VaultKey") are often more similar to the question than the one that answers it ("The
checkout lasts up to 8 hours"), so the extractive answer uses the type to find the latter. The patterns are
English question words and units, nothing of any one corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.core.answers.grounding import numbers

AnswerType = Literal["duration", "length", "money", "time", "count", "percent"]

_COUNT_WORD = (
    r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|ninety|hundred)"
)
_NUMBER_WORD = rf"(?:{_COUNT_WORD}|an?)"  # "a day", "an hour"
_UNIT_OF_TIME = r"(?:minutes?|min|hours?|hrs?|h|days?|working days?|business days?|weeks?|months?|years?)"
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_MONTH = r"(?:january|february|march|april|june|july|august|september|october|november|december)"

# Question forms per type. A question may ask for more than one ("how much" is money or a quantity).
_ASKS: dict[AnswerType, re.Pattern[str]] = {
    "duration": re.compile(
        rf"\bhow (long|soon|early|late)\b|\bhow far (in advance|ahead)\b|\bin advance\b|"
        rf"\bhow many {_UNIT_OF_TIME}\b|\b(deadline|notice period|period|"
        r"retention|retained|kept|valid|expire|expires|lasts?|duration)\b",
        re.IGNORECASE,
    ),
    # "How long must a password be?" asks for a length, not a duration: a question may ask for both.
    "length": re.compile(
        r"\bhow (long|short|tall|wide|high|big|large)\b|\b(length|size|width|height)\b", re.IGNORECASE
    ),
    "money": re.compile(
        r"\bhow much\b|\b(money|cost|costs|price|prices|fee|fees|pay|paid|pays|amount|budget|bonus|allowance|subsid\w*|"
        r"reimburs\w*|refund\w*|salary|rate|maximum|minimum|limit|spend|worth)\b",
        re.IGNORECASE,
    ),
    "time": re.compile(
        r"\b(when|what time|which (day|days|date|dates|month|months|year|years|time|times|weekday|weekdays)|"
        r"how often|what day|what date|by when|until when|cut-?off)\b",
        re.IGNORECASE,
    ),
    "count": re.compile(r"\b(how many|number of)\b", re.IGNORECASE),
    "percent": re.compile(r"\b(percentage|percent|share of|rate|proportion)\b", re.IGNORECASE),
}

_STATES: dict[AnswerType, re.Pattern[str]] = {
    "duration": re.compile(rf"\b{_NUMBER_WORD}[\s-]*{_UNIT_OF_TIME}\b", re.IGNORECASE),
    "length": re.compile(
        r"\b\d[\d,.]*\s?(characters?|chars|digits?|letters?|words?|pages?|lines?|mm|cm|m|km|metres?|meters?|"
        r"inch|inches|feet|ft|kb|mb|gb|tb|px|pixels?)\b",
        re.IGNORECASE,
    ),
    "money": re.compile(
        r"[€$£¥]\s?\d|\d\s?(€|\$|£)|\b(eur|usd|cad|gbp|chf|sek|nok|dkk|pln|inr|aud|jpy)\s?\d|"
        r"\d[\d,.]*\s?(eur|usd|cad|gbp|chf|euros?|dollars?|pounds?)\b",
        re.IGNORECASE,
    ),
    "time": re.compile(
        rf"\b{_WEEKDAY}\b|\b{_MONTH}\b|\b\d{{1,2}}[:.]\d{{2}}\b|\b\d{{1,2}}\s?(am|pm)\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|"
        r"\b(daily|weekly|monthly|quarterly|yearly|annually|noon|midnight|every (day|week|month|year))\b",
        re.IGNORECASE,
    ),
    "percent": re.compile(r"\d\s?%|\bper ?cent\b", re.IGNORECASE),
}
# "How many employees ..." is answered by "23 employees": a number right before what is counted.
_COUNTED = re.compile(r"\b(?:how many|number of)\s+(?:\w+\s+)??([a-z]{3,})", re.IGNORECASE)

# An identifier a question names (a form, an error, a ticket, an incident, a cost centre): letters and digits in
# one token, usually with hyphens (FIN-F-03, E-LDG-0042, SIR-2025-031, CC-4410, HR-22b).
_CODE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")


@dataclass(frozen=True)
class Asked:
    """What a question asks for, read once: the kinds of value, its own numbers, and what it counts."""

    kinds: frozenset[AnswerType]
    own: frozenset[str]  # the question's numbers: no answer to it
    count: re.Pattern[str] | None  # "how many employees" -> a number before "employees"

    def stated_by(self, sentence: str) -> bool:
        """Whether the sentence states a value of one of the kinds that the question did not already give: the
        numbers of "incident SIR-2025-031" or "in 2025" are the question's, not an answer to it."""
        if not self.kinds:
            return False
        rest = _CODE.sub(" ", sentence)  # an identifier names a thing, it states no value
        if self.own:
            rest = " ".join(word for word in rest.split() if not (found := numbers(word)) or not found <= self.own)
        if self.count is not None and self.count.search(rest):
            return True
        return any(_STATES[kind].search(rest) for kind in self.kinds if kind != "count")


def asked(question: str) -> Asked:
    """The kinds of value the question asks for (none for a how-to, a yes/no, a who) and how to spot them."""
    kinds = frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(question))
    count = None
    if "count" in kinds:
        counted = _COUNTED.search(question)
        noun = rf"{counted.group(1)[:5]}\w*" if counted else r"\w+"
        count = re.compile(rf"\b{_COUNT_WORD}\s+(?:\w+\s+)?{noun}", re.IGNORECASE)
    return Asked(kinds, frozenset(numbers(question)), count)


def codes(text: str) -> set[str]:
    """The identifiers in `text`, upper-cased."""
    return {match.group(0).upper() for match in _CODE.finditer(text)}
