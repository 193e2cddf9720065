"""Grounding on hand-made sources and answers (a bag-of-words embedding stands in for the model), the generator's
three modes on a scripted token stream, then chat through the API with a scripted model: live tokens with a
verdict per sentence, citations numbered by first use, and extractive answers instead of a false "I don't know"."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.chat.events import ChatEvent, SentenceChecked, Token
from services.api.chat.generation import Generator
from services.api.chat.plan import Answer, ChatPlan, GroundingSpec
from services.core.access.principals import Caller
from services.core.answers.citations import CitableDocument, CitationBook
from services.core.answers.grounding import (
    MAX_CANDIDATES,
    Grounder,
    GroundingAction,
    SentenceBuffer,
    content_words,
    split_sentences,
    strip_invalid_markers,
)
from services.core.db.models import Message
from services.core.llm.prompt import Prompt, SourceDocument
from services.core.vectorstore.port import ScoredChunk
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

SOURCES = {
    1: "Employees get 30 days of annual leave per calendar year. Unused days expire on 31 March of the next year.",
    2: "The guest Wi-Fi network is NM-Guest. Its password changes every Monday.",
    3: "Parking permits in Lisbon cost €45 per month and are handed out via a waiting list.",
}


def fake_embed(texts: Sequence[str]) -> list[list[float]]:
    """Normalised hashed bag of content words: similar wording, similar vector."""
    vectors = []
    for text in texts:
        vector = [0.0] * 64
        for word in content_words(text):
            vector[zlib.crc32(word.encode()) % 64] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        vectors.append([v / norm for v in vector])
    return vectors


def grounder(action: GroundingAction = "hold") -> Grounder:
    return Grounder(SOURCES, fake_embed, min_similarity=0.75, min_overlap=0.6, action=action)


def test_split_sentences_keeps_markers_and_decimals() -> None:
    text = "You get 30 days [1]. It costs €40.50, e.g. for cars. [3] Ask HR! Done"
    assert split_sentences(text) == ["You get 30 days [1].", "It costs €40.50, e.g. for cars. [3]", "Ask HR!", "Done"]


def test_supported_sentence_is_kept_and_attributed() -> None:
    result = grounder().check("Employees get 30 days of annual leave per year [1].")
    assert result.answer == "Employees get 30 days of annual leave per year [1]."
    (verdict,) = result.verdicts
    assert verdict.supported and verdict.cited == [1] and verdict.best_source == 1
    assert verdict.reason == "supported by source [1]"


def test_fabricated_sentence_is_held_back_in_hold_mode() -> None:
    answer = "Employees get 30 days of annual leave [1]. Employees may also take a free sailing trip to Madeira [1]."
    result = grounder("hold").check(answer)
    assert result.answer == "Employees get 30 days of annual leave [1]."
    assert result.removed == 1 and result.summary()["unsupported"] == 1


def test_fabricated_sentence_is_shown_with_its_verdict_in_annotate_mode() -> None:
    answer = "Employees get 30 days of annual leave [1]. Employees may also take a free sailing trip to Madeira [1]."
    result = grounder("annotate").check(answer)
    assert result.answer == answer  # nothing is taken back: the verdict marks it
    assert result.flagged == 1 and result.removed == 0
    assert [v.supported for v in result.verdicts] == [True, False]
    assert result.verdicts[1].reason == "no source says this"


def test_a_terse_answer_is_supported_only_by_the_sentence_that_answers_the_question() -> None:
    question = "How many days of annual leave do employees get per year?"
    asked = Grounder(SOURCES, fake_embed, min_similarity=0.75, min_overlap=0.6, question=question)
    (right,) = asked.check("30 days.").verdicts
    assert right.supported and right.terse and right.best_source == 1
    assert right.reason == "found in the sentence of source [1] that answers the question"
    # The same words elsewhere in the source do not count: "unused" is in source 1, not in its answering sentence.
    assert not asked.check("Unused days.").verdicts[0].supported
    assert not asked.check("31 days.").verdicts[0].supported  # a number the answering sentence lacks
    assert not asked.check("Madeira.").verdicts[0].supported
    # Without the question there is no answering sentence: the fragment resembles no source sentence.
    assert not grounder().check("30 days.").verdicts[0].supported


def test_wrong_number_is_unsupported_even_with_the_same_words() -> None:
    result = grounder().check("Parking permits in Lisbon cost €60 per month [3].")
    assert not result.verdicts[0].numbers_ok and not result.verdicts[0].supported
    assert result.verdicts[0].reason == "it states a number the sources do not contain"


def test_citation_to_a_source_not_in_the_context_is_stripped() -> None:
    result = grounder().check("The guest Wi-Fi network is NM-Guest [7].")
    assert result.answer == "The guest Wi-Fi network is NM-Guest."
    assert result.invalid_citations == 1 and result.verdicts[0].supported
    assert strip_invalid_markers("Yes [2, 7].", {1, 2, 3}) == "Yes [2]."


def test_uncited_but_supported_sentence_is_kept_and_attributed_to_its_source() -> None:
    result = grounder().check("The guest Wi-Fi password changes every Monday.")
    assert result.answer == "The guest Wi-Fi password changes every Monday."
    assert result.verdicts[0].cited == [] and result.verdicts[0].supported and result.verdicts[0].best_source == 2


def test_sentence_checked_only_against_the_sources_it_cites() -> None:
    result = grounder().check("The guest Wi-Fi password changes every Monday [1].")
    assert not result.verdicts[0].supported  # true, but not of source 1


def test_nothing_supported_means_the_answer_must_be_given_otherwise() -> None:
    session = grounder().session()
    for sentence in ("The CEO owns three yachts [2].", "Lunch is free on Fridays [9]."):
        assert session.add(sentence) is None
    assert session.finish() is True
    assert session.result("").summary() == {
        "checked": 2,
        "unsupported": 2,
        "removed": 2,
        "flagged": 0,
        "invalid_citations": 1,
        "fell_back": True,
    }


def test_a_bare_yes_is_not_vouched_for_by_wording() -> None:
    result = grounder().check("Yes [2].")
    assert result.answer == "" and not result.verdicts[0].supported


def test_off_lets_everything_through() -> None:
    session = grounder("off").session()
    assert session.add("The CEO owns three yachts [2].") == "The CEO owns three yachts [2]."
    assert session.finish() is False


def test_sentence_buffer_emits_only_finished_sentences() -> None:
    buffer = SentenceBuffer()
    out: list[str] = []
    for delta in ["You get 30", " days [1", "]. Unused", " days expire", ". "]:
        out.extend(buffer.feed(delta))
    assert out == ["You get 30 days [1]."]  # "Unused days expire." may still go on ("... expire. [2]")
    out.extend(buffer.feed("Ask HR"))
    assert out == ["You get 30 days [1].", "Unused days expire."]
    out.extend(buffer.flush())
    assert out == ["You get 30 days [1].", "Unused days expire.", "Ask HR"]


def test_near_the_threshold_the_model_has_the_last_word_over_the_cheaper_encoder() -> None:
    """Chat checks with the encoder's int8 copy; a similarity within CONFIRM_MARGIN of the threshold is measured
    again by the model itself, so the verdict there is the model's, and one far from it costs no second look."""
    sentence, source = "Employees get 30 days of annual leave.", "Employees get 30 days of annual leave per year."

    def encoder(cosine: float, calls: list[int]) -> Any:
        def embed(texts: Sequence[str]) -> list[list[float]]:
            calls.append(len(texts))
            return [[1.0, 0.0] if text == sentence else [cosine, math.sqrt(1 - cosine * cosine)] for text in texts]

        return embed

    cases = ((0.70, 0.80, True, True), (0.80, 0.70, False, True), (0.3, 0.9, False, False))
    for cheap, exact, supported, confirmed in cases:
        calls: list[int] = []
        checker = Grounder({1: source}, encoder(cheap, []), 0.75, 1.01, confirm=encoder(exact, calls))
        verdict = checker.check_sentence(sentence)
        assert verdict.supported is supported, (cheap, exact)
        assert bool(calls) is confirmed and checker.confirmed == int(confirmed)


# The generator on a scripted token stream.


def chunk(number: int, text: str) -> ScoredChunk:
    return ScoredChunk(f"c{number}", 1.0, f"doc-{number}", 0, f"Doc {number}", "", text)


def plan_for(action: GroundingAction) -> ChatPlan:
    context = {n: CitableDocument(n, f"doc-{n}", f"Doc {n}", (chunk(n, t),), 0.5) for n, t in SOURCES.items()}
    return ChatPlan(
        "conversation",
        Caller("p", "person", "user", ()),
        "How many days of leave do employees get?",
        prompt=Prompt([]),
        context=context,
        documents=[SourceDocument(n, f"doc-{n}", f"Doc {n}", (chunk(n, t),)) for n, t in SOURCES.items()],
        grounding=GroundingSpec(action, min_similarity=0.75, min_overlap=0.6),
    )


def run(
    deltas: list[str],
    action: GroundingAction,
    embed: Any = fake_embed,
    gateway: Any = None,
    confirm: Any = None,
) -> tuple[list[ChatEvent], Answer]:
    class ScriptedGateway:
        async def stream(self, prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
            for delta in deltas:
                yield delta

    generator = Generator(
        gateway=cast(Any, gateway or ScriptedGateway()),
        embed=embed,
        confirm=confirm or fake_embed,
        policies=cast(Any, None),  # only the fallback reads policies, and the model does not fail here
        sessions=cast(Any, None),
        recorder=cast(Any, None),
    )
    plan = plan_for(action)
    answer = Answer(CitationBook(plan.context))

    async def collect() -> list[ChatEvent]:
        return [event async for event in generator.generate(plan, answer)]

    return asyncio.run(collect()), answer


DELTAS = ["Employees get 30 days", " of annual leave [1]. The CEO", " owns three yachts [2]. Unused days", " expire."]


def test_annotate_streams_every_token_as_it_comes_and_a_verdict_after_each_sentence() -> None:
    events, answer = run(DELTAS, "annotate")
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens == DELTAS  # nothing held back, nothing rewritten on the way
    verdicts = [e.sentence for e in events if isinstance(e, SentenceChecked)]
    assert [(v.supported, v.shown) for v in verdicts] == [(True, True), (False, True), (True, True)]
    # Each verdict comes after its sentence's last token.
    first_verdict = next(i for i, e in enumerate(events) if isinstance(e, SentenceChecked))
    assert first_verdict > 1
    # Citations renumbered by first use: [1] first, the unsupported sentence's [2] second, the uncited but
    # supported last sentence attributed to the source that supports it.
    assert [v.text for v in verdicts] == [
        "Employees get 30 days of annual leave [1].",
        "The CEO owns three yachts [2].",
        "Unused days expire [1].",
    ]
    assert answer.mode == "generated" and answer.grounding is not None and answer.grounding["flagged"] == 1


def test_hold_sends_only_sentences_that_passed() -> None:
    events, answer = run(DELTAS, "hold")
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert "".join(tokens) == "Employees get 30 days of annual leave [1]. Unused days expire [1]."
    assert answer.text == "".join(tokens) and answer.grounding is not None
    assert answer.grounding["removed"] == 1 and answer.grounding["checked"] == 3


def test_when_no_sentence_holds_up_the_documents_answer_extractively() -> None:
    events, answer = run(["The CEO owns three yachts [2]. Lunch is free [9]."], "annotate")
    assert answer.mode == "extractive"
    assert "“Employees get 30 days of annual leave per calendar year.” [" in answer.text
    assert any(isinstance(e, Token) and "Quoted from the documents" in e.text for e in events)


def test_a_supported_answer_that_names_no_value_asked_for_is_followed_by_the_quote_that_does() -> None:
    # "How many days ...?" answered with a true sentence that gives no number of days.
    events, answer = run(["Unused days expire on 31 March of the next year [1]."], "annotate")
    assert answer.mode == "generated"  # the model's sentence held up; the quote only completes it
    assert answer.text.startswith("Unused days expire on 31 March of the next year [1].")
    assert "“Employees get 30 days of annual leave per calendar year.” [1]" in answer.text
    assert any(isinstance(e, Token) and "30 days of annual leave" in e.text for e in events)
    # Only quotes that state the value follow: not the expiry sentence again, nor other sources.
    assert answer.text.count("31 March") == 1 and "Wi-Fi" not in answer.text


def test_an_answer_embeds_each_text_once_for_its_check_and_its_quotes() -> None:
    """Embedding a text twice was a quarter of Steward's CPU while vLLM decoded beside it (bench/llm_gateway.py
    --profile): a source sentence that the check compared and the extractive answer then ranks is embedded once."""
    sent: list[str] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        sent.extend(texts)
        return fake_embed(texts)

    _, answer = run(["The CEO owns three yachts [2]. Employees get free lunch [9]."], "annotate", counting)
    assert answer.mode == "extractive"
    assert "How many days of leave do employees get?" in sent  # the quotes were ranked against the question
    quoted = "Employees get 30 days of annual leave per calendar year."
    assert quoted in sent and quoted in answer.text  # compared by the check ("employees"), then quoted
    assert len(sent) == len(set(sent)), sorted(t for t in set(sent) if sent.count(t) > 1)


def test_the_last_sentence_s_check_is_prepared_while_the_model_is_still_writing() -> None:
    """The last sentence is certainly finished only when the stream ends; what its check needs is embedded as soon
    as it looks finished, beside the model's last steps, and the check then embeds nothing again."""
    embedded: list[str] = []
    during_last_step: list[bool] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        embedded.extend(texts)
        return fake_embed(texts)

    class SlowLastStep:
        async def stream(self, prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
            yield "Employees get 30 days"
            yield " of annual leave [1]."
            for _ in range(500):  # the end-of-sequence step, slow on a busy machine
                if "Employees get 30 days of annual leave." in embedded:
                    break
                await asyncio.sleep(0.01)
            during_last_step.append("Employees get 30 days of annual leave." in embedded)

    events, answer = run([], "annotate", embed=counting, gateway=SlowLastStep())
    assert during_last_step == [True]
    verdicts = [e.sentence for e in events if isinstance(e, SentenceChecked)]
    assert [(v.text, v.supported) for v in verdicts] == [("Employees get 30 days of annual leave [1].", True)]
    assert answer.mode == "generated"
    assert len(embedded) == len(set(embedded))  # the check found its texts embedded


def test_a_sentence_is_compared_only_with_source_sentences_it_shares_a_word_with() -> None:
    sent: list[str] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        sent.extend(texts)
        return fake_embed(texts)

    checker = Grounder(SOURCES, counting, min_similarity=0.75, min_overlap=0.6)
    verdict = checker.check_sentence("Employees get 30 days of annual leave per year.")
    assert verdict.supported and verdict.best_source == 1
    assert "Employees get 30 days of annual leave per calendar year." in sent
    assert not any("Wi-Fi" in text or "Lisbon" in text for text in sent), sent  # nothing in common: not embedded
    # Nothing in common with any source: unsupported, and nothing of the sources embedded.
    sent.clear()
    assert not checker.check_sentence("Lunch is served upstairs.").supported
    assert sent == []


def test_a_sentence_is_compared_with_a_shortlist_of_the_source_sentences_sharing_most_with_it() -> None:
    sent: list[str] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        sent.extend(texts)
        return fake_embed(texts)

    many = " ".join(f"Room {n} has a projector." for n in range(1, 21)) + " The leave year ends in March."
    checker = Grounder({1: many}, counting, min_similarity=0.75, min_overlap=0.6)
    assert checker.check_sentence("Room 7 has a projector, it says [1].").supported
    compared = [text for text in sent if text != "Room 7 has a projector, it says."]
    assert len(compared) == MAX_CANDIDATES and "Room 7 has a projector." in compared
    assert "The leave year ends in March." not in sent


# Through the API, with a scripted model: one true sentence, one invented and one citing a source that is not there.

FABRICATED = "The guest Wi-Fi password is tulip42 [1]. The CEO owns three yachts in Monaco [1]. See the intranet [7]."


def scripted(api: TestClient, text: str) -> None:
    async def stream(prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
        for word in text.split(" "):
            yield word + " "

    api.app.state.llm.gateway.stream = stream  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api()
    scripted(api, FABRICATED)
    wifi = make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    wait_settled(api, ADMIN_KEY, upload(api, ADMIN_KEY, "wifi.md", wifi).json()["id"])
    return api


def sse(api: TestClient, question: str) -> list[tuple[str, Any]]:
    body = {"question": question, "stream": True}
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        lines = list(response.iter_lines())
    return [
        (kind.removeprefix("event:").strip(), json.loads(data.removeprefix("data:")))
        for kind, data in itertools.pairwise(lines)
        if kind.startswith("event:")
    ]


def test_json_answer_carries_every_sentence_with_its_verdict_and_is_stored(api: TestClient) -> None:
    scripted(api, FABRICATED)
    body = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(ADMIN_KEY)).json()
    assert body["mode"] == "generated" and body["generated"] is True
    assert [(s["text"], s["supported"]) for s in body["sentences"]] == [
        ("The guest Wi-Fi password is tulip42 [1].", True),
        ("The CEO owns three yachts in Monaco [1].", False),
        ("See the intranet.", False),  # the marker named no source: gone
    ]
    assert body["answer"] == " ".join(s["text"] for s in body["sentences"])
    assert body["grounding"]["flagged"] == 2 and body["grounding"]["invalid_citations"] == 1
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        stored = session.scalars(
            select(Message).where(Message.conversation_id == body["conversation_id"], Message.role == "assistant")
        ).one()
    assert stored.content == body["answer"]


def test_streamed_tokens_are_the_models_own_and_every_sentence_gets_a_verdict(api: TestClient) -> None:
    scripted(api, FABRICATED)
    events = sse(api, "What is the guest Wi-Fi password?")
    tokens = "".join(payload["text"] for kind, payload in events if kind == "token")
    assert tokens.split() == FABRICATED.split()  # live, as the model wrote them
    verdicts = [payload for kind, payload in events if kind == "sentence"]
    assert [v["supported"] for v in verdicts] == [True, False, False]
    assert verdicts[1]["reason"] and verdicts[0]["source"] == 1
    assert events[0][0] == "meta" and events[-1][0] == "done"
    assert events[-1][1]["sentences"] == verdicts


def test_hold_mode_sends_only_checked_sentences(embedded_api: ClientFactory) -> None:
    strict = embedded_api(grounding_action="hold")
    scripted(strict, FABRICATED)
    wifi = make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    wait_settled(strict, ADMIN_KEY, upload(strict, ADMIN_KEY, "wifi.md", wifi).json()["id"])
    events = sse(strict, "What is the guest Wi-Fi password?")
    tokens = [payload["text"] for kind, payload in events if kind == "token"]
    done = events[-1][1]
    assert "".join(tokens) == "The guest Wi-Fi password is tulip42 [1]." == done["answer"]
    assert done["grounding"]["removed"] == 2


def test_relevant_sources_and_nothing_supported_give_an_extractive_answer_not_i_dont_know(api: TestClient) -> None:
    scripted(api, "The password is printed on the CEO's yacht [1].")
    body = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(ADMIN_KEY)).json()
    assert body["mode"] == "extractive" and not body["answer"].startswith("I don't know")
    assert "“The guest Wi-Fi password is tulip42.” [1]" in body["answer"]
    assert [c["title"] for c in body["citations"]] == ["Wi-Fi"]


def test_a_follow_up_replays_the_models_own_words_even_when_the_user_got_an_extractive_answer(api: TestClient) -> None:
    """The prompt only grows (vLLM's prefix cache): the turn is replayed as the model wrote it, whatever was shown."""
    invented = "The password is printed on the CEO's yacht [1]."
    scripted(api, invented)
    first = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(ADMIN_KEY))
    assert first.json()["mode"] == "extractive"
    prompts: list[Prompt] = []

    async def stream(prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
        prompts.append(prompt)
        yield "Ask the reception."

    api.app.state.llm.gateway.stream = stream  # type: ignore[attr-defined]
    follow_up = {"question": "And who changes it?", "conversation_id": first.json()["conversation_id"]}
    assert api.post("/v1/chat", json=follow_up, headers=auth(ADMIN_KEY)).status_code == 200
    (prompt,) = prompts
    replayed = [m["content"] for m in prompt.messages if m["role"] == "assistant"]
    assert any(invented.strip() in content for content in replayed[:-1]), prompt.messages
    scripted(api, FABRICATED)


def test_citations_are_one_per_document_numbered_by_first_use_and_all_used(embedded_api: ClientFactory) -> None:
    api = embedded_api()
    rooms = make_markdown(
        "Meeting rooms",
        [("Lisbon", "The largest Lisbon meeting room is Tejo, for 20 people."), ("Hamburg", "Hamburg has Elbe.")],
    )
    parking = make_markdown("Parking", [("Lisbon", "Lisbon parking permits cost 45 euros a month.")])
    for name, data in (("rooms.md", rooms), ("parking.md", parking)):
        wait_settled(api, ADMIN_KEY, upload(api, ADMIN_KEY, name, data).json()["id"])
    # The model names the second document first, and leaves its last sentence uncited.
    body = {"question": "In Lisbon: what is the largest meeting room and what does parking cost?", "stream": True}
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        meta = json.loads(next(line for line in response.iter_lines() if line.startswith("data:"))[5:])
    numbers = {s["title"]: s["source"] for s in meta["sources"]}
    parking_n, rooms_n = numbers["Parking"], numbers["Meeting rooms"]
    scripted(api, f"Parking costs 45 euros a month [{parking_n}]. The largest Lisbon meeting room is Tejo.")
    answer = api.post("/v1/chat", json={"question": body["question"]}, headers=auth(ADMIN_KEY)).json()
    # The check does not vouch for the parking sentence, so the only supported one names no price; the source's
    # sentence that states it follows, quoted under the parking document's number.
    assert answer["answer"] == (
        "Parking costs 45 euros a month [1]. The largest Lisbon meeting room is Tejo [2]. "
        "Quoted from the documents: “Lisbon parking permits cost 45 euros a month.” [1]"
    )
    assert [(c["source"], c["title"]) for c in answer["citations"]] == [(1, "Parking"), (2, "Meeting rooms")]
    assert rooms_n != parking_n and len({c["document_id"] for c in answer["citations"]}) == 2
    rooms_citation = answer["citations"][1]
    assert {"section": "Meeting rooms > Lisbon"} in rooms_citation["locations"]
