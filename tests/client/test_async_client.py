"""The asyncio client against the real app: the same answers as the sync client, awaited."""

from __future__ import annotations

import pytest

from services.client import (
    AsyncStewardClient,
    AuthenticationError,
    DoneEvent,
    MetaEvent,
    NotFoundError,
    TokenEvent,
)
from tests.fixtures.documents import make_markdown
from tests.support.bridge import async_client_for
from tests.support.corpus import Seeded


async def test_upload_wait_and_search_find_the_fact(async_admin: AsyncStewardClient) -> None:
    data = make_markdown("Bike shed", [("Where", "The bike shed is behind building C, code 7712.")])
    uploaded = await async_admin.upload_document(data, filename="bikes.md", groups=["everyone"])
    assert (await async_admin.wait_for_document(uploaded.id, timeout=60)).status == "ready"

    found = await async_admin.search("Where is the bike shed?", top_k=2)
    assert found.results[0].document_id == uploaded.id and "7712" in found.results[0].text


async def test_chat_cites_the_document_with_the_fact(async_admin: AsyncStewardClient, seeded: Seeded) -> None:
    answer = await async_admin.chat("What is the IT helpdesk extension?")
    assert "4357" in answer.answer and answer.citations[0].document_id == seeded.ids["helpdesk"]
    assert (await async_admin.give_feedback(answer.message_id or "", "down")).rating == "down"


async def test_chat_stream_yields_meta_then_tokens_then_done(async_admin: AsyncStewardClient) -> None:
    events = [event async for event in async_admin.chat_stream("What is the guest Wi-Fi password?")]
    assert isinstance(events[0], MetaEvent) and isinstance(events[-1], DoneEvent)
    text = "".join(event.text for event in events if isinstance(event, TokenEvent))
    assert "tulip42" in text and text == events[-1].answer


async def test_list_documents_pages_through_everything(async_admin: AsyncStewardClient, seeded: Seeded) -> None:
    ids = [document.id async for document in async_admin.list_documents(page_size=1)]
    assert set(seeded.ids.values()) <= set(ids) and len(ids) == len(set(ids))


async def test_errors_are_typed(async_admin: AsyncStewardClient, seeded: Seeded) -> None:
    with pytest.raises(NotFoundError):
        await async_admin.get_document("00000000-0000-0000-0000-000000000000")
    stranger = AsyncStewardClient(str(seeded.api.base_url), "stw_wrong", http_client=async_client_for(seeded.api))
    with pytest.raises(AuthenticationError):
        await stranger.chat("anything")
    with pytest.raises(AuthenticationError):
        async for _event in stranger.chat_stream("anything"):
            pass
