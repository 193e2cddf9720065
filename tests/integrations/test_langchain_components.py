"""StewardRetriever and ChatSteward against the real app in this process (no model: chat answers extractively).

The standard suites run against a live server with a model (test_langchain_integration.py, slow); these pin down
what a chain sees, quickly: the fact in the documents, the citations in the metadata, the stream's shape."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda

from services.client import PermissionDeniedError
from services.integrations.langchain import ChatSteward, StewardRetriever
from tests.support.api import ClientFactory, issue_key
from tests.support.bridge import async_client_for, client_for
from tests.support.corpus import Seeded, seed
from tests.support.settings import ADMIN_KEY


def connection(seeded: Seeded, key: str = ADMIN_KEY) -> dict[str, Any]:
    """The fields that point a component at the app, as `key`."""
    return {
        "base_url": str(seeded.api.base_url),
        "api_key": key,
        "http_client": client_for(seeded.api),
        "http_async_client": async_client_for(seeded.api),
    }


@pytest.fixture(scope="module")
def seeded(embedded_api: ClientFactory) -> Seeded:
    api = embedded_api()
    return Seeded(api, seed(api))


def test_the_retriever_finds_the_fact_with_its_source(seeded: Seeded) -> None:
    retriever = StewardRetriever(**connection(seeded), top_k=2)
    documents = retriever.invoke("What is the guest Wi-Fi password?")
    assert 1 <= len(documents) <= 2
    best = documents[0]
    assert "tulip42" in best.page_content
    assert best.metadata["document_id"] == seeded.ids["wifi"]
    assert best.metadata["source"] == best.metadata["title"] == "Guest Wi-Fi"
    assert {"heading", "chunk_index", "location", "score", "similarity"} <= best.metadata.keys()
    assert len(retriever.invoke("What is the guest Wi-Fi password?", top_k=1)) == 1


async def test_the_retriever_works_async(seeded: Seeded) -> None:
    retriever = StewardRetriever(**connection(seeded))
    documents = await retriever.ainvoke("Which extension does the IT helpdesk answer on?")
    assert documents[0].metadata["document_id"] == seeded.ids["helpdesk"] and "4357" in documents[0].page_content


def test_the_retriever_sees_only_what_its_key_may_read(seeded: Seeded) -> None:
    outsider = issue_key(seeded.api, "outsider", "user", ["nobody"])
    retriever = StewardRetriever(**connection(seeded, outsider))
    assert all("tulip42" not in d.page_content for d in retriever.invoke("What is the guest Wi-Fi password?"))


def test_the_retriever_in_a_chain(seeded: Seeded) -> None:
    retriever = StewardRetriever(**connection(seeded), top_k=1)

    def as_context(documents: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in documents)

    chain = retriever | RunnableLambda(as_context)
    assert chain.invoke("When does the parking garage open?").startswith("[Parking garage] ")


def test_chat_answers_with_citations_in_the_metadata(seeded: Seeded) -> None:
    model = ChatSteward(**connection(seeded))
    answer = model.invoke([SystemMessage("Ignored."), HumanMessage("What is the guest Wi-Fi password?")])
    assert isinstance(answer, AIMessage) and "tulip42" in answer.text
    metadata = answer.response_metadata
    assert metadata["citations"][0]["document_id"] == seeded.ids["wifi"] and metadata["citations"][0]["source"] == 1
    assert metadata["mode"] == "extractive" and metadata["conversation_id"] and metadata["message_id"]
    assert (model | StrOutputParser()).invoke("What is the guest Wi-Fi password?") == answer.text


def test_chat_streams_tokens_then_a_last_chunk_with_the_metadata(seeded: Seeded) -> None:
    model = ChatSteward(**connection(seeded))
    chunks = list(model.stream("When does the parking garage open?"))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks) and len(chunks) >= 2
    assert chunks[-1].chunk_position == "last" and chunks[-1].text == ""
    assert all(chunk.response_metadata == {} for chunk in chunks[:-1])
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert "06:30" in whole.text
    assert whole.response_metadata["citations"][0]["document_id"] == seeded.ids["garage"]
    assert whole.response_metadata["answer"] == whole.text  # extractive: written as it was streamed


async def test_chat_works_async(seeded: Seeded) -> None:
    model = ChatSteward(**connection(seeded))
    answer = await model.ainvoke("Which extension does the IT helpdesk answer on?")
    assert "4357" in answer.text and answer.response_metadata["citations"][0]["document_id"] == seeded.ids["helpdesk"]
    chunks = [chunk async for chunk in model.astream("Which extension does the IT helpdesk answer on?")]
    assert chunks[-1].chunk_position == "last" and "4357" in "".join(chunk.text for chunk in chunks)


def test_chat_continues_a_conversation_passed_per_call(seeded: Seeded) -> None:
    model = ChatSteward(**connection(seeded))
    first = model.invoke("What is the guest Wi-Fi password?")
    conversation = first.response_metadata["conversation_id"]
    follow_up = model.invoke("And the helpdesk extension?", conversation_id=conversation)
    assert follow_up.response_metadata["conversation_id"] == conversation


def test_chat_errors_are_the_clients_typed_errors(seeded: Seeded) -> None:
    app = issue_key(seeded.api, "widget-app", "app", ["everyone"])
    model = ChatSteward(**connection(seeded, app), priority="interactive")
    with pytest.raises(PermissionDeniedError):  # only people may ask for interactive priority
        model.invoke("What is the guest Wi-Fi password?")
