"""Grounding on hand-made sources and answers (a bag-of-words embedding stands in for the model), then through
chat with a scripted model: JSON, SSE and the stored message."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import zlib
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.chat.events import Token
from services.api.chat.generation import Generator
from services.api.chat.plan import Answer, ChatPlan, GroundingSpec
from services.core.access.principals import Caller
from services.core.answers.grounding import (
    FLAG,
    Grounder,
    GroundingAction,
    SentenceBuffer,
    content_words,
    split_sentences,
    strip_invalid_markers,
)
from services.core.db.models import Message
from services.core.llm.prompt import Prompt
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

IDK = "I don't know."
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


def grounder(action: GroundingAction = "remove") -> Grounder:
    return Grounder(SOURCES, fake_embed, min_similarity=0.75, min_overlap=0.6, action=action)


def test_split_sentences_keeps_markers_and_decimals() -> None:
    text = "You get 30 days [1]. It costs €40.50, e.g. for cars. [3] Ask HR! Done"
    assert split_sentences(text) == ["You get 30 days [1].", "It costs €40.50, e.g. for cars. [3]", "Ask HR!", "Done"]


def test_supported_sentence_is_kept() -> None:
    result = grounder().check("Employees get 30 days of annual leave per year [1].", IDK)
    assert result.answer == "Employees get 30 days of annual leave per year [1]."
    assert result.summary()["unsupported"] == 0 and result.verdicts[0].cited == [1]


def test_fabricated_sentence_is_removed() -> None:
    answer = "Employees get 30 days of annual leave [1]. Employees may also take a free sailing trip to Madeira [1]."
    result = grounder().check(answer, IDK)
    assert result.answer == "Employees get 30 days of annual leave [1]."
    assert result.removed == 1 and result.summary()["unsupported"] == 1


def test_fabricated_sentence_is_flagged() -> None:
    answer = "Employees get 30 days of annual leave [1]. Employees may also take a free sailing trip to Madeira [1]."
    result = grounder("flag").check(answer, IDK)
    assert result.answer == (
        f"Employees get 30 days of annual leave [1]. {FLAG}Employees may also take a free sailing trip to Madeira [1]."
    )
    assert result.flagged == 1 and result.removed == 0


def test_wrong_number_is_unsupported_even_with_the_same_words() -> None:
    result = grounder().check("Parking permits in Lisbon cost €60 per month [3].", IDK)
    assert not result.verdicts[0].numbers_ok and not result.verdicts[0].supported


def test_citation_to_a_source_not_in_the_context_is_stripped() -> None:
    result = grounder().check("The guest Wi-Fi network is NM-Guest [7].", IDK)
    assert result.answer == "The guest Wi-Fi network is NM-Guest."
    assert result.invalid_citations == 1 and result.verdicts[0].supported
    assert strip_invalid_markers("Yes [2, 7].", {1, 2, 3}) == "Yes [2]."


def test_uncited_but_supported_sentence_is_kept() -> None:
    result = grounder().check("The guest Wi-Fi password changes every Monday.", IDK)
    assert result.answer == "The guest Wi-Fi password changes every Monday."
    assert result.verdicts[0].cited == [] and result.verdicts[0].supported


def test_sentence_checked_only_against_the_sources_it_cites() -> None:
    result = grounder().check("The guest Wi-Fi password changes every Monday [1].", IDK)
    assert not result.verdicts[0].supported  # true, but not of source 1


def test_nothing_supported_left_answers_i_dont_know() -> None:
    result = grounder().check("The CEO owns three yachts [2]. Lunch is free on Fridays [9].", IDK)
    assert result.answer == IDK
    assert result.summary() == {
        "checked": 2,
        "unsupported": 2,
        "removed": 2,
        "flagged": 0,
        "invalid_citations": 1,
        "fell_back": True,
    }


def test_a_bare_yes_is_not_vouched_for_by_wording() -> None:
    assert grounder().check("Yes [2].", IDK).answer == IDK


def test_off_lets_everything_through() -> None:
    result = grounder("off").check("The CEO owns three yachts [2].", IDK)
    assert result.answer == "The CEO owns three yachts [2]." and not result.fell_back


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


def test_stream_never_sends_an_unsupported_sentence() -> None:
    deltas = [
        "Employees get 30 days",
        " of annual leave [1]. The CEO",
        " owns three yachts [2]. Unused days",
        " expire.",
    ]

    class ScriptedGateway:
        async def stream(self, prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
            for delta in deltas:
                yield delta

    generator = Generator(
        gateway=cast(Any, ScriptedGateway()),
        embed=fake_embed,
        policies=cast(Any, None),  # only the fallback reads policies, and the model does not fail here
        sessions=cast(Any, None),
        recorder=cast(Any, None),
    )
    plan = ChatPlan(
        "conversation",
        Caller("p", "person", "user", ()),
        "How many days of leave?",
        citations=[cast(Any, SimpleNamespace(source=n, text=t)) for n, t in SOURCES.items()],
        prompt=Prompt([]),
        grounding=GroundingSpec("remove", min_similarity=0.75, min_overlap=0.6),
    )
    answer = Answer(generated=True)

    async def collect() -> list[str]:
        return [event.text async for event in generator.generate(plan, answer) if isinstance(event, Token)]

    sent = asyncio.run(collect())
    assert "".join(sent) == "Employees get 30 days of annual leave [1]. Unused days expire."
    assert answer.text == "".join(sent) and answer.grounding is not None
    assert answer.grounding["removed"] == 1 and answer.grounding["checked"] == 3


FABRICATED = "The guest Wi-Fi password is tulip42 [1]. The CEO owns three yachts in Monaco [1]. See the intranet [7]."


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    """The embedded app whose model answers with one true sentence, one invented and one bad citation."""
    api = embedded_api()

    async def complete(prompt: Prompt, usage: Any = None) -> str:
        return FABRICATED

    async def stream(prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
        for word in FABRICATED.split(" "):
            yield word + " "

    llm = api.app.state.llm  # type: ignore[attr-defined]
    llm.gateway.complete, llm.gateway.stream = complete, stream
    doc = upload(
        api, ADMIN_KEY, "wifi.md", make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    )
    wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def test_chat_answer_is_checked_before_it_is_returned_and_stored(api: TestClient) -> None:
    body = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(ADMIN_KEY)).json()
    assert body["answer"] == "The guest Wi-Fi password is tulip42 [1]."
    assert body["grounding"] == {
        "checked": 3,
        "unsupported": 2,
        "removed": 2,
        "flagged": 0,
        "invalid_citations": 1,
        "fell_back": False,
    }
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        stored = session.scalars(
            select(Message).where(Message.conversation_id == body["conversation_id"], Message.role == "assistant")
        ).one()
    assert stored.content == body["answer"]


def test_streamed_answer_sends_only_checked_sentences(api: TestClient) -> None:
    body = {"question": "What is the guest Wi-Fi password?", "stream": True}
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        lines = list(response.iter_lines())
    events = [
        (kind.removeprefix("event:").strip(), json.loads(data.removeprefix("data:")))
        for kind, data in itertools.pairwise(lines)
        if kind.startswith("event:")
    ]
    tokens = [payload["text"] for kind, payload in events if kind == "token"]
    done = events[-1][1]
    assert "".join(tokens) == "The guest Wi-Fi password is tulip42 [1]." == done["answer"]
    assert done["grounding"]["removed"] == 2
