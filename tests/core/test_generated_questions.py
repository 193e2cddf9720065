"""Questions the configured LLM writes about passages, as training pairs for `steward tune --generated-questions`."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from services.core.adaptation.pairs import Passage, make_pairs
from services.core.adaptation.questions import FEW_SHOT, QuestionsUnavailable, QuestionWriter, usable

LEAVE = Passage("p1", "d1", "Leave", "Leave > Annual", "Employees get 30 days of annual leave per calendar year.")
PARKING = Passage("p2", "d2", "Parking", "Parking > Permits", "Parking permits cost 45 euros a month at the office.")
WIFI = Passage("p3", "d3", "Wi-Fi", "Wi-Fi > Guests", "The guest Wi-Fi password is printed at the reception desk.")


def test_a_usable_question_is_one_line_about_its_passage() -> None:
    passage = f"{LEAVE.heading}\n{LEAVE.text}"
    assert usable("How many days of annual leave do employees get?", passage)
    assert not usable("How many days of annual leave do employees get", passage)  # not a question
    assert not usable("What is the policy?", passage)  # names nothing of the passage
    assert not usable("How much is paid per kilometre for using my own car?", passage)  # the example, copied
    assert not usable("How much is paid per kilometre for using my own car?", FEW_SHOT)  # even where it would fit
    assert not usable("How many days of annual leave?\nAnd parking?", passage)


def writer(reply: httpx.MockTransport, style: str = "base") -> QuestionWriter:
    return QuestionWriter(base_url="http://llm.test/v1", model="steward-gemma", style=style, transport=reply)  # type: ignore[arg-type]


def test_the_base_model_gets_the_examples_and_each_usable_question_is_kept() -> None:
    seen: list[dict[str, object]] = []
    answers = {
        "Leave": "How many days of annual leave do employees get?",
        "Parking": "How much is paid per kilometre for using my own car?",  # the example again: dropped
        "Wi-Fi": "Where is the guest Wi-Fi password printed?",
    }

    def reply(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"path": request.url.path, **body})
        passage = str(body["prompt"]).rsplit("Passage: ", 1)[1]
        text = next(q for title, q in answers.items() if passage.startswith(title))
        return httpx.Response(200, json={"choices": [{"text": f" {text}"}]})

    written = writer(httpx.MockTransport(reply)).write([LEAVE, PARKING, WIFI])

    assert written == {"p1": answers["Leave"], "p3": answers["Wi-Fi"]}
    assert {s["path"] for s in seen} == {"/v1/completions"}
    assert all(str(s["prompt"]).startswith(FEW_SHOT) and s["stop"] == ["\n"] for s in seen)
    assert all(s["temperature"] == 0 and s["model"] == "steward-gemma" for s in seen)


def test_an_instruction_tuned_model_is_asked_plainly() -> None:
    seen: list[dict[str, object]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append({"path": request.url.path, **json.loads(request.content)})
        message = {"role": "assistant", "content": "How much does a parking permit cost a month?\n"}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    written = writer(httpx.MockTransport(reply), style="chat").write([PARKING])

    assert written == {"p2": "How much does a parking permit cost a month?"}
    (request,) = seen
    assert request["path"] == "/v1/chat/completions"
    messages: list[dict[str, str]] = request["messages"]  # type: ignore[assignment]
    (message,) = messages
    assert message["role"] == "user" and "Parking permits cost 45 euros" in message["content"]
    assert FEW_SHOT not in message["content"]


def test_a_failed_request_loses_only_its_passage_and_all_failing_says_why() -> None:
    def flaky(request: httpx.Request) -> httpx.Response:
        if b"Parking" in request.content:
            return httpx.Response(500, json={"error": "boom"})
        if b"Wi-Fi" in request.content:
            return httpx.Response(200, json={"unexpected": True})  # malformed: no choices
        return httpx.Response(200, json={"choices": [{"text": "How many days of annual leave do I get?"}]})

    assert writer(httpx.MockTransport(flaky)).write([LEAVE, PARKING, WIFI]) == {
        "p1": "How many days of annual leave do I get?"
    }

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(QuestionsUnavailable, match=r"no question.*connection refused"):
        writer(httpx.MockTransport(down)).write([LEAVE, PARKING])


def test_each_written_question_becomes_a_pair_with_its_whole_passage() -> None:
    question = "How many days of annual leave do employees get?"
    without = make_pairs([LEAVE, PARKING], rng=random.Random(1))
    pairs = make_pairs([LEAVE, PARKING], rng=random.Random(1), questions={"p1": question})

    added = [p for p in pairs if p.query == question]
    assert len(pairs) == len(without) + 1
    assert len(added) == 1
    assert added[0].positive == LEAVE.embedded and added[0].document_id == "d1"  # nothing cut out of it
