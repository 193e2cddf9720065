"""Load and validate the question set: one JSON object per line, every problem reported with its line number."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from services.eval.errors import EvalError

KINDS = ("lookup", "keyword", "paraphrase", "followup", "unanswerable")
ROLES = ("user", "assistant")
_REQUIRED: dict[str, type] = {"id": str, "question": str, "relevant": list, "answerable": bool, "kind": str}
_OPTIONAL: dict[str, type] = {"history": list, "key": str}
_MAX_REPORTED = 20


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


def _question(obj: dict[str, Any], line: int) -> Question:
    return Question(
        id=obj["id"],
        question=obj["question"],
        relevant=tuple(obj["relevant"]),
        answerable=obj["answerable"],
        kind=obj["kind"],
        history=tuple(Turn(turn["role"], turn["content"]) for turn in obj.get("history", [])),
        key=obj.get("key"),
        line=line,
    )
