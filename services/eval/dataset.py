"""Load and validate the question set: one JSON object per line, every problem reported with its line number."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from services.eval.errors import EvalError

KINDS = ("lookup", "keyword", "paraphrase", "followup", "unanswerable")
ROLES = ("user", "assistant")
_REQUIRED: dict[str, type] = {"id": str, "question": str, "relevant": list, "answerable": bool, "kind": str}
_OPTIONAL: dict[str, type] = {"history": list, "key": str, "facts": list}
_MAX_REPORTED = 20
MAX_FACTS = 3


class DatasetError(EvalError):
    """The dataset is malformed; `problems` are `line N: what is wrong` strings, in file order."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        shown = problems[:_MAX_REPORTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{path}: invalid dataset\n  " + "\n  ".join(shown) + more)
        self.path, self.problems = path, problems


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    relevant: tuple[str, ...]  # paths relative to the corpus dir, the best first; empty when unanswerable
    answerable: bool
    kind: str
    history: tuple[Turn, ...] = ()
    key: str | None = None
    facts: tuple[str, ...] = ()  # answerable only: spellings of the answer's key fact, any one suffices (contains_fact)
    line: int = 0  # where it is in the file, for messages

    def history_payload(self) -> list[dict[str, str]]:
        """The earlier turns as the API takes them."""
        return [{"role": turn.role, "content": turn.content} for turn in self.history]


def load_questions(path: Path) -> list[Question]:
    """Every question of the JSONL file at `path`, in file order; DatasetError lists every bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read the dataset {path}: {exc}") from exc
    questions: list[Question] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        errors = _problems(obj)
        if not errors and obj["id"] in seen:
            errors.append(f"duplicate id {obj['id']!r} (first on line {seen[obj['id']]})")
        if errors:
            problems.extend(f"line {number}: {error}" for error in errors)
            continue
        seen[obj["id"]] = number
        questions.append(_question(obj, number))
    if problems:
        raise DatasetError(path, problems)
    if not questions:
        raise DatasetError(path, ["no questions in the file"])
    return questions


def check_relevant_exist(questions: Iterable[Question], sources: set[str], corpus_dir: Path) -> None:
    """Fail when a question names a relevant document that the corpus does not have."""
    missing = [
        f"line {q.line}: {q.id} names {path!r}, which is not in {corpus_dir}"
        for q in questions
        for path in q.relevant
        if path not in sources
    ]
    if missing:
        raise EvalError("relevant documents missing from the corpus:\n  " + "\n  ".join(missing[:_MAX_REPORTED]))


def _problems(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    problems = [f"missing field {name!r}" for name in _REQUIRED if name not in obj]
    unknown = sorted(set(obj) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        problems.append(f"unknown field(s) {', '.join(map(repr, unknown))}")
    for name, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if name in obj and not isinstance(obj[name], kind):
            problems.append(f"{name!r} must be a {kind.__name__}, got {type(obj[name]).__name__}")
    if problems:
        return problems
    for name in ("id", "question"):
        if not obj[name].strip():
            problems.append(f"{name!r} is empty")
    if obj["kind"] not in KINDS:
        problems.append(f"'kind' must be one of {', '.join(KINDS)}, got {obj['kind']!r}")
    problems += _relevant_problems(obj["relevant"])
    if obj["answerable"] != bool(obj["relevant"]):
        problems.append("'answerable' must be true exactly when 'relevant' is non-empty")
    if (obj["kind"] == "unanswerable") == obj["answerable"]:
        problems.append("kind 'unanswerable' goes with answerable=false, and only with it")
    if "history" in obj:
        problems += _history_problems(obj["history"])
    if "facts" in obj:
        problems += _facts_problems(obj["facts"], obj["answerable"])
    return problems


def _relevant_problems(relevant: list[Any]) -> list[str]:
    problems = []
    for path in relevant:
        if not isinstance(path, str) or not path.strip():
            problems.append(f"'relevant' holds {path!r}; expected non-empty path strings")
        elif path.startswith("/") or ".." in PurePosixPath(path).parts or "\\" in path:
            problems.append(f"'relevant' path {path!r} must be relative to the corpus, with forward slashes")
    if len(set(map(str, relevant))) != len(relevant):
        problems.append("'relevant' lists a document twice")
    return problems


def _history_problems(history: list[Any]) -> list[str]:
    for index, turn in enumerate(history):
        if (
            not isinstance(turn, dict)
            or set(turn) != {"role", "content"}
            or turn["role"] not in ROLES
            or not isinstance(turn["content"], str)
        ):
            return [f'\'history\' turn {index} must be {{"role": "user"|"assistant", "content": "..."}}']
    return []


def _facts_problems(facts: list[Any], answerable: bool) -> list[str]:
    if not answerable:
        return ["'facts' only go with answerable questions"]
    if not 1 <= len(facts) <= MAX_FACTS:
        return [f"'facts' must hold 1 to {MAX_FACTS} strings, got {len(facts)}"]
    if not all(isinstance(fact, str) and normalise_for_match(fact) for fact in facts):
        return [f"'facts' holds {facts!r}; expected strings with at least one letter or digit"]
    return []


def _question(obj: dict[str, Any], line: int) -> Question:
    return Question(
        id=obj["id"],
        question=obj["question"],
        relevant=tuple(obj["relevant"]),
        answerable=obj["answerable"],
        kind=obj["kind"],
        history=tuple(Turn(turn["role"], turn["content"]) for turn in obj.get("history", [])),
        key=obj.get("key"),
        facts=tuple(obj.get("facts", [])),
        line=line,
    )


# --- facts: does an answer state the labelled fact? ----------------------------------------------------------------

# fmt: off
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
# fmt: on
_THOUSANDS = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:[,.'\u00a0\u202f\u2009]\d{3})+(?![\d])")
_TENS_WORDS = re.compile(rf"\b({'|'.join(_TENS)})(?:[\s-]+({'|'.join(_NUMBER_WORDS[1:10])}))?\b")
_SMALL_WORDS = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)})\b")
_INFLECTION = r"(?:s|es|d|ed|ing|ly)?(?![a-z])"
_MONTH_FIRST = re.compile(rf"\b({'|'.join(_MONTHS)})\s+(\d{{1,2}})\b(?![.:]\d)")


def normalise_for_match(text: str) -> str:
    """`text` in the canonical form facts are matched in: lowercase words and numbers separated by single spaces.

    In order: thousands separators (`,` `.` `'` or a no-break space) are dropped (`1,500` and `1.500` -> `1500`);
    accents are stripped (`Krüger` -> `kruger`) and case is folded; `€` and `euro(s)` become `eur`; a decimal comma
    becomes a point and trailing decimal zeros go (`0,30` and `0.30` -> `0.3`); leading zeros go (`08:30` -> `8:30`);
    ordinal suffixes go (`31st` -> `31`); number words up to ninety-nine become digits (`seven` -> `7`, `twenty-four`
    -> `24`); `March 31` becomes `31 march`; letters and digits are split apart (`35MB` -> `35 mb`); and every other
    character except a point between digits becomes a space (`24/7` -> `24 7`, `13:00` -> `13 0`, `FAC-POL-006` ->
    `fac pol 6`).
    """
    text = _THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group()), text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"\beuros?\b", " eur ", text.replace("€", " eur ").replace("£", " gbp "))
    text = re.sub(r"(?<=\d),(?=\d)", ".", text)
    text = re.sub(r"(\d)\.(\d+)", lambda m: m[1] + ("." + m[2].rstrip("0") if m[2].rstrip("0") else ""), text)
    text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)
    text = re.sub(r"(?<=\d)(?:st|nd|rd|th)\b", "", text)
    text = _TENS_WORDS.sub(lambda m: str(_TENS[m[1]] + (_NUMBER_WORDS.index(m[2]) if m[2] else 0)), text)
    text = _SMALL_WORDS.sub(lambda m: str(_NUMBER_WORDS.index(m[1])), text)
    text = _MONTH_FIRST.sub(r"\2 \1", text)
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    text = re.sub(r"(?!(?<=\d)\.(?=\d))[^a-z0-9]", " ", text)
    return " ".join(text.split())


def fact_in(fact: str, normalised_text: str) -> bool:
    """Whether `fact` occurs in a text already passed through normalise_for_match.

    It must start and end at a word boundary, so `40` is not in `400` or `40.5` and `free` is not in `freelancer`,
    except that its last word may take an inflection ending (-s, -es, -d, -ed, -ing, -ly): `30 day` matches
    `30 days` and `30-day`, `escalate` matches `escalated`.
    """
    needle = normalise_for_match(fact)
    if not needle:
        return False
    tail = r"(?![\d.])" if needle[-1].isdigit() else _INFLECTION
    return re.search(rf"(?<![a-z0-9.]){re.escape(needle)}{tail}", normalised_text) is not None


def contains_fact(answer: str, facts: Sequence[str]) -> bool | None:
    """Whether `answer` states the labelled fact: True when any of `facts` (alternative spellings of one fact) occurs
    in it after normalise_for_match, False when none does, None when the question has no facts to check."""
    if not facts:
        return None
    text = normalise_for_match(answer)
    return any(fact_in(fact, text) for fact in facts)
