"""Sanity checks for the retrieval evaluation set in tests/data/eval (data only, no retrieval is run)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ingestion.parsers import parse_document
from services.eval.dataset import DatasetError, contains_fact, fact_in, load_questions, normalise_for_match

EVAL_DIR = Path(__file__).parents[1] / "data" / "eval"
CORPUS = EVAL_DIR / "corpus"
QUESTIONS = EVAL_DIR / "questions.jsonl"

MAIN_DEPARTMENTS = ("hr", "it", "finance", "security", "facilities")
ALL_DEPARTMENTS = (*MAIN_DEPARTMENTS, "legal", "general")
FORMATS = (".md", ".txt", ".html", ".csv", ".eml")
NON_MARKDOWN = (".txt", ".html", ".csv", ".eml")

MIN_DOCUMENTS = 160
MIN_PER_DEPARTMENT = 28
MIN_PER_FORMAT = 10
MIN_QUESTIONS = 100
MIN_PER_KIND = {"lookup": 1, "keyword": 20, "paraphrase": 15, "followup": 15, "unanswerable": 20}
REQUIRED_FIELDS = {"id": str, "question": str, "relevant": list, "answerable": bool, "kind": str}
OPTIONAL_FIELDS = {"key", "history", "facts"}


@cache
def documents() -> tuple[Path, ...]:
    return tuple(sorted(p for p in CORPUS.rglob("*") if p.is_file()))


@cache
def questions() -> tuple[dict[str, Any], ...]:
    parsed = []
    for number, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"questions.jsonl line {number} is blank"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"questions.jsonl line {number} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {number} is not a JSON object"
        parsed.append(obj)
    return tuple(parsed)


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


@cache
def document_text(source: str) -> str:
    """A corpus document as Steward's own parsers extract it (title and every section), normalised for matching."""
    path = CORPUS / source
    parsed = parse_document(path.read_bytes(), path.suffix.removeprefix("."), path.name)
    return normalise_for_match("\n".join([parsed.title, *(f"{s.heading}\n{s.text}" for s in parsed.sections)]))


# --- corpus -------------------------------------------------------------------------------------------------------


def test_corpus_size_and_departments() -> None:
    docs = documents()
    assert len(docs) >= MIN_DOCUMENTS
    per_department = Counter(rel(p).split("/")[0] for p in docs)
    unexpected = set(per_department) - set(ALL_DEPARTMENTS)
    assert not unexpected, f"unexpected folders: {unexpected}"
    for department in MAIN_DEPARTMENTS:
        assert per_department[department] >= MIN_PER_DEPARTMENT, (department, per_department[department])
    assert all(rel(p).count("/") == 1 for p in docs), "documents live directly in corpus/<department>/"


def test_corpus_formats() -> None:
    per_format = Counter(p.suffix for p in documents())
    assert set(per_format) <= set(FORMATS), f"unexpected file types: {set(per_format) - set(FORMATS)}"
    for suffix in NON_MARKDOWN:
        assert per_format[suffix] >= MIN_PER_FORMAT, (suffix, per_format[suffix])
    assert per_format[".md"] > sum(per_format.values()) / 2, "Markdown should be the majority"


@pytest.mark.parametrize("path", documents(), ids=rel)
def test_document_is_text_with_a_title(path: Path) -> None:
    raw = path.read_bytes()
    assert b"\x00" not in raw, "binary content"
    text = raw.decode("utf-8")
    assert len(text.split()) >= 15, "document is (nearly) empty"
    first_line = text.lstrip().splitlines()[0]

    if path.suffix == ".md":
        assert re.match(r"# \S", first_line), f"Markdown must start with '# Title', got {first_line!r}"
    elif path.suffix == ".txt":
        assert len(first_line.strip()) >= 10, "first line of a .txt file serves as its title"
    elif path.suffix == ".html":
        assert first_line.lower().startswith("<!doctype html"), "full HTML page expected"
        assert re.search(r"<title>\s*\S[^<]*</title>", text), "missing <title>"
        assert re.search(r"<h1[^>]*>\s*\S", text), "missing <h1>"
        assert "<nav" in text and "<footer" in text, "pages keep their navigation and footer boilerplate"
    elif path.suffix == ".eml":
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for header in ("From", "To", "Date", "Subject"):
            assert message[header], f"missing {header} header"
        assert message.get_body(preferencelist=("plain",)) is not None, "no text/plain body"
        for part in message.iter_attachments():
            assert part.get_content_type() == "text/plain", "attachments must be text/plain"
    elif path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        header = rows[0]
        assert len(header) >= 3 and all(re.fullmatch(r"[a-z0-9_]+", h) for h in header), f"bad header {header}"
        assert len(rows) >= 4, "a register needs some rows"
        for number, row in enumerate(rows[1:], 2):
            assert len(row) == len(header), f"row {number} has {len(row)} fields, header has {len(header)}"


def test_no_duplicate_documents() -> None:
    seen: dict[str, str] = {}
    for path in documents():
        body = path.read_text(encoding="utf-8")
        assert body not in seen, f"{rel(path)} duplicates {seen.get(body)}"
        seen[body] = rel(path)


# --- questions ----------------------------------------------------------------------------------------------------


def test_questions_schema() -> None:
    for q in questions():
        for field, kind in REQUIRED_FIELDS.items():
            assert isinstance(q.get(field), kind), f"{q.get('id')}: field {field!r} missing or not {kind.__name__}"
        unknown = set(q) - set(REQUIRED_FIELDS) - OPTIONAL_FIELDS
        assert not unknown, f"{q['id']}: unknown fields {unknown}"
        assert re.fullmatch(r"q\d{3,}", q["id"]), q["id"]
        assert q["kind"] in MIN_PER_KIND, f"{q['id']}: unknown kind {q['kind']!r}"
        assert len(q["question"].strip()) >= 8, q["id"]
        assert all(isinstance(r, str) for r in q["relevant"]), q["id"]


def test_question_ids_unique() -> None:
    ids = Counter(q["id"] for q in questions())
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    assert len({q["question"].strip().lower() for q in questions()}) == len(questions()), "duplicate question text"


def test_question_counts_per_kind() -> None:
    assert len(questions()) >= MIN_QUESTIONS
    per_kind = Counter(q["kind"] for q in questions())
    for kind, minimum in MIN_PER_KIND.items():
        assert per_kind[kind] >= minimum, (kind, per_kind[kind])


def test_relevant_paths_exist_and_match_answerable() -> None:
    existing = {rel(p) for p in documents()}
    for q in questions():
        relevant = q["relevant"]
        assert len(relevant) == len(set(relevant)), f"{q['id']}: duplicate relevant paths"
        assert q["answerable"] == bool(relevant), f"{q['id']}: answerable must equal non-empty relevant"
        is_unanswerable_kind = q["kind"] == "unanswerable"
        assert is_unanswerable_kind == (not q["answerable"]), f"{q['id']}: only the unanswerable kind has no answer"
        assert len(relevant) <= 3, f"{q['id']}: at most 3 relevant documents"
        for path in relevant:
            assert path in existing, f"{q['id']}: {path} does not exist under corpus/"


def test_followups_have_alternating_history() -> None:
    for q in questions():
        history = q.get("history")
        if q["kind"] != "followup":
            assert history is None, f"{q['id']}: history only on followups"
            continue
        assert isinstance(history, list), f"{q['id']}: followup needs a history"
        assert len(history) in (2, 4), f"{q['id']}: 1-2 previous turns (user + assistant each)"
        for position, turn in enumerate(history):
            assert set(turn) == {"role", "content"}, f"{q['id']}: turn {position} fields {set(turn)}"
            assert turn["role"] == ("user" if position % 2 == 0 else "assistant"), f"{q['id']}: roles must alternate"
            assert isinstance(turn["content"], str) and turn["content"].strip(), f"{q['id']}: empty turn"
        assert history[-1]["role"] == "assistant"


def test_keyword_questions_hinge_on_a_verbatim_key() -> None:
    for q in questions():
        key = q.get("key")
        if q["kind"] != "keyword":
            assert key is None, f"{q['id']}: key only on keyword questions"
            continue
        assert isinstance(key, str) and len(key) >= 3, f"{q['id']}: keyword questions need a key"
        assert key in q["question"], f"{q['id']}: key {key!r} not in the question"
        first = (CORPUS / q["relevant"][0]).read_text(encoding="utf-8")
        assert key in first, f"{q['id']}: key {key!r} not in {q['relevant'][0]}"


def test_every_department_is_asked_about() -> None:
    asked = Counter(path.split("/")[0] for q in questions() for path in q["relevant"][:1])
    for department in MAIN_DEPARTMENTS:
        assert asked[department] >= 5, (department, asked[department])


# --- answer facts -------------------------------------------------------------------------------------------------


def test_answerable_questions_have_one_to_three_facts() -> None:
    for q in questions():
        facts = q.get("facts")
        if not q["answerable"]:
            assert facts is None, f"{q['id']}: unanswerable questions have no facts"
            continue
        assert isinstance(facts, list) and 1 <= len(facts) <= 3, f"{q['id']}: needs 1-3 facts, got {facts!r}"
        for fact in facts:
            assert isinstance(fact, str) and fact.strip() == fact and fact, f"{q['id']}: bad fact {fact!r}"
            assert normalise_for_match(fact), f"{q['id']}: fact {fact!r} has no letters or digits"
        assert len({normalise_for_match(f) for f in facts}) == len(facts), f"{q['id']}: the same fact twice"
        assert list(q)[-1] == "facts", f"{q['id']}: 'facts' is the last key"


def test_every_fact_is_in_a_relevant_document() -> None:
    """The labels come from the documents: each fact occurs, after normalisation, in one of the relevant documents."""
    for q in questions():
        for fact in q.get("facts", []):
            found = [source for source in q["relevant"] if fact_in(fact, document_text(source))]
            assert found, f"{q['id']}: fact {fact!r} is in none of {q['relevant']}"


def test_facts_are_not_given_away_by_the_question() -> None:
    """A fact that the question or the earlier turns already state would be matched by an answer that echoes them."""
    for q in questions():
        context = " ".join([q["question"], *(turn["content"] for turn in q.get("history", []))])
        assert not contains_fact(context, q.get("facts", [])), f"{q['id']}: a fact already appears in the question"


def test_loader_reads_facts_onto_questions() -> None:
    loaded = {q.id: q for q in load_questions(QUESTIONS)}
    for q in questions():
        assert loaded[q["id"]].facts == tuple(q.get("facts", [])), q["id"]
    assert loaded["q001"].facts == ("55",)


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        ([], "'facts' must hold 1 to 3 strings, got 0"),
        (["1", "2", "3", "4"], "'facts' must hold 1 to 3 strings, got 4"),
        (["  "], "expected strings with at least one letter or digit"),
        ([40], "expected strings with at least one letter or digit"),
    ],
)
def test_loader_rejects_bad_facts(tmp_path: Path, facts: list[Any], problem: str) -> None:
    path = tmp_path / "q.jsonl"
    base = {"id": "q1", "question": "What is it?", "relevant": ["a.md"], "answerable": True, "kind": "lookup"}
    unanswerable = {**base, "id": "q2", "relevant": [], "answerable": False, "kind": "unanswerable", "facts": ["x"]}
    path.write_text(json.dumps({**base, "facts": facts}) + "\n" + json.dumps(unanswerable) + "\n")
    with pytest.raises(DatasetError) as caught:
        load_questions(path)
    assert caught.value.problems[0].startswith("line 1: ") and problem in caught.value.problems[0]
    assert caught.value.problems[1] == "line 2: 'facts' only go with answerable questions"


def test_contains_fact_accepts_a_paraphrase_with_the_number() -> None:
    facts = ["40"]
    assert contains_fact("For a weekday night on call you get a flat allowance of 40 euros.", facts)
    assert contains_fact("The allowance is €40.", facts)
    assert contains_fact("It's EUR 40 per night (Mon-Fri).", facts)
    assert contains_fact("forty euros per weekday night", facts)


def test_contains_fact_rejects_a_wrong_number() -> None:
    facts = ["40"]
    assert contains_fact("You get €90 for a weekday night.", facts) is False
    assert contains_fact("You get €400 for a weekday night.", facts) is False  # whole numbers only
    assert contains_fact("You get €140 for a weekday night.", facts) is False
    assert contains_fact("You get €40.50 for a weekday night.", facts) is False
    assert contains_fact("I could not find this in the documents.", facts) is False


def test_contains_fact_is_none_without_facts() -> None:
    assert contains_fact("anything", []) is None
    assert contains_fact("anything", ()) is None


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("a maximum of EUR 1500 per trip", "1,500"),  # thousands separators
        ("up to €1.500", "1,500"),
        ("up to 1\u202f500 euros", "1,500"),
        ("€0,30 per kilometre", "0.30"),  # decimal comma and trailing zeros
        ("CAD 42.5 on arrival days", "42.50"),
        ("opens at 8:30", "08:30"),  # leading zeros
        ("ask Stefan KRUGER", "Krüger"),  # accents and case
        ("by March 31st", "31 March"),  # US-style dates and ordinals
        ("within seven weeks", "7 week"),  # number words; the last word may run on
        ("a 30-day deadline", "30 day"),
        ("it is escalated to the next manager", "escalate"),
        ("it escalates", "escalate"),
        ("up to thirty-five MB", "35 MB"),
        ("the queue is staffed 24 / 7", "24/7"),
        ("use the one-way NDA", "one-way"),
        ("error E-LDG-0042 means", "E-LDG-0042"),
    ],
)
def test_contains_fact_normalises_spelling(answer: str, fact: str) -> None:
    assert contains_fact(answer, [fact]), (answer, normalise_for_match(answer), normalise_for_match(fact))


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("Room HH-3.14 seats 12", "3"),  # a number inside a decimal is not the number
        ("about 0.32 per kWh", "32"),
        ("a first-class ticket", "first Monday"),
        ("the freelancer", "free"),  # the last word takes inflection endings only
        ("unfree", "free"),
        ("within 300 days", "30 day"),
    ],
)
def test_contains_fact_does_not_match_inside_other_tokens(answer: str, fact: str) -> None:
    assert contains_fact(answer, [fact]) is False
