"""The typed client against the real app (no model: chat answers extractively or says it does not know)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.client import (
    AuthenticationError,
    ChatAnswer,
    DoneEvent,
    InvalidRequestError,
    MetaEvent,
    NotFoundError,
    PermissionDeniedError,
    SentenceEvent,
    StewardClient,
    TokenEvent,
)
from tests.fixtures.documents import make_markdown
from tests.support.api import issue_key
from tests.support.corpus import Seeded


def client_as(seeded: Seeded, key: str) -> StewardClient:
    return StewardClient(str(seeded.api.base_url), key, http_client=seeded.api)


def test_an_uploaded_file_is_found_by_search_once_ready(admin: StewardClient, tmp_path: Path) -> None:
    path = tmp_path / "canteen.md"
    path.write_bytes(make_markdown("Canteen", [("Lunch", "The canteen serves lunch from 11:45 to 14:00.")]))
    uploaded = admin.upload_document(path, groups=["everyone"], tags=["facilities"])
    assert uploaded.queued and uploaded.filename == "canteen.md" and uploaded.tags == ["facilities"]

    ready = admin.wait_for_document(uploaded.id, timeout=60)
    assert ready.status == "ready" and ready.chunk_count >= 1

    found = admin.search("When does the canteen serve lunch?", top_k=3)
    assert found.results[0].document_id == uploaded.id
    assert "11:45" in found.results[0].text and found.results[0].title == "Canteen"
    assert found.answerable
    # The same file with the same access and tags again is recognised: nothing is queued.
    assert admin.upload_document(path, groups=["everyone"], tags=["facilities"]).queued is False


def test_search_filters_narrow_to_the_documents_named(admin: StewardClient, seeded: Seeded) -> None:
    found = admin.search("password", filters={"document_ids": [seeded.ids["garage"]]}, mode="sparse")
    assert {hit.document_id for hit in found.results} <= {seeded.ids["garage"]}


def test_chat_answers_with_the_fact_and_cites_its_document(admin: StewardClient, seeded: Seeded) -> None:
    answer = admin.chat("What is the guest Wi-Fi password?")
    assert isinstance(answer, ChatAnswer)
    assert "tulip42" in answer.answer and answer.mode == "extractive"  # no model here: quoted from the source
    assert answer.citations[0].document_id == seeded.ids["wifi"] and answer.citations[0].title == "Guest Wi-Fi"
    assert answer.citations[0].source == 1 and "[1]" in answer.answer
    assert answer.message_id is not None

    rated = admin.give_feedback(answer.message_id, "up", "found it")
    assert (rated.message_id, rated.rating, rated.comment) == (answer.message_id, "up", "found it")


def test_chat_without_readable_sources_says_it_does_not_know(seeded: Seeded) -> None:
    stranger = client_as(seeded, issue_key(seeded.api, "stranger", "user", ["nobody"]))
    answer = stranger.chat("What is the guest Wi-Fi password?")
    assert answer.mode == "not_found" and answer.answer.startswith("I don't know")
    assert "tulip42" not in answer.answer and answer.citations == []


def test_chat_continues_a_conversation_by_its_id(admin: StewardClient) -> None:
    first = admin.chat("What is the guest Wi-Fi password?")
    second = admin.chat("And the helpdesk extension?", conversation_id=first.conversation_id)
    assert second.conversation_id == first.conversation_id


def test_chat_stream_yields_meta_then_tokens_then_done(admin: StewardClient, seeded: Seeded) -> None:
    events = list(admin.chat_stream("When does the parking garage open?"))

    assert isinstance(events[0], MetaEvent) and isinstance(events[-1], DoneEvent)
    assert all(isinstance(event, TokenEvent | SentenceEvent) for event in events[1:-1])
    text = "".join(event.text for event in events if isinstance(event, TokenEvent))
    done = events[-1]
    assert "06:30" in text and text == done.answer  # the tokens are the answer, as it was written
    assert done.conversation_id == events[0].conversation_id
    assert done.citations[0].document_id == seeded.ids["garage"]


def test_stopping_a_stream_early_leaves_the_client_usable(admin: StewardClient) -> None:
    stream = admin.chat_stream("When does the parking garage open?")
    assert isinstance(next(stream), MetaEvent)
    stream.close()  # the response is closed; the next call works as ever
    assert "tulip42" in admin.chat("What is the guest Wi-Fi password?").answer


def test_list_documents_pages_through_everything_readable(admin: StewardClient, seeded: Seeded) -> None:
    for n in range(4):
        text = f"Room {n} of the paging wing seats {n + 4} people."
        uploaded = admin.upload_document(
            make_markdown(f"Paging room {n}", [("Seats", text)]), filename=f"room{n}.md", groups=["hr"]
        )
        admin.wait_for_document(uploaded.id)  # the title comes from the parsed heading

    one_at_a_time = [document.id for document in admin.list_documents(page_size=1)]
    assert len(one_at_a_time) == len(set(one_at_a_time)) >= len(seeded.ids) + 4
    assert one_at_a_time == [document.id for document in admin.list_documents(page_size=500)]  # newest first
    rooms = [document.title for document in admin.list_documents(q="Paging room", page_size=3)]
    assert sorted(rooms) == [f"Paging room {n}" for n in range(4)]


def test_a_wrong_key_is_an_authentication_error(seeded: Seeded) -> None:
    with client_as(seeded, "stw_not_a_real_key") as stranger, pytest.raises(AuthenticationError) as raised:
        stranger.search("anything")
    assert raised.value.status == 401 and raised.value.code


def test_a_wrong_key_fails_a_stream_before_any_event(seeded: Seeded) -> None:
    stranger = client_as(seeded, "stw_not_a_real_key")
    with pytest.raises(AuthenticationError):
        next(stranger.chat_stream("anything"))


def test_an_unknown_document_is_not_found(admin: StewardClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        admin.get_document("00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404 and raised.value.code == "document_not_found"


def test_an_invalid_request_names_the_field(admin: StewardClient) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        admin.search("   ")
    assert raised.value.status == 422 and raised.value.code == "invalid_request"
    assert "query" in raised.value.message


def test_a_reader_may_not_upload(seeded: Seeded) -> None:
    reader = client_as(seeded, issue_key(seeded.api, "reader", "user", ["everyone"]))
    with pytest.raises(PermissionDeniedError) as raised:
        reader.upload_document(b"# Notes\n\nSome notes.", filename="notes.md", groups=["everyone"])
    assert raised.value.status == 403


def test_a_deleted_document_is_gone(admin: StewardClient) -> None:
    note = admin.upload_document(b"# Note\n\nThe kiwi room is on floor 9.", filename="kiwi.md", groups=["everyone"])
    admin.wait_for_document(note.id, timeout=60)
    admin.delete_document(note.id)
    with pytest.raises(NotFoundError):
        admin.get_document(note.id)
    assert all(hit.document_id != note.id for hit in admin.search("kiwi room floor", mode="sparse").results)
