"""What each client method sends, and how an answer is read: shared by the sync and the async client, so the two
cannot drift apart. Only fields the caller gave are sent; the server's defaults (and settings) decide the rest."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import httpx
from pydantic import BaseModel
from typing_extensions import Unpack

from services.client.errors import error_from_response
from services.client.models import HistoryTurn, Priority, RetrievalMode, RewriteChoice, SearchFilters, UploadedDocument

Model = TypeVar("Model", bound=BaseModel)

# Anything upload_document() can read a file from.
FileInput = str | os.PathLike[str] | bytes

History = Sequence[HistoryTurn | Mapping[str, str]]
Filters = SearchFilters | Mapping[str, Any]

# The server's largest page (services/api/fields.py Limit).
MAX_PAGE = 500


@dataclass(frozen=True)
class Endpoint:
    """Where the server is and who is asking: every request carries the key, whoever made the HTTP client."""

    base_url: str
    api_key: str

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass(frozen=True)
class Call:
    """One HTTP request, independent of the client that sends it."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] | None = None

    def request_kwargs(self) -> dict[str, Any]:
        given = {"params": self.params, "json": self.json, "data": self.data, "files": self.files}
        return {name: value for name, value in given.items() if value is not None}


def read(response: httpx.Response, model: type[Model]) -> Model:
    """The answer as `model`, or the typed error it carries. The response must have been read."""
    check(response)
    return model.model_validate(response.json())


def read_upload(response: httpx.Response) -> UploadedDocument:
    """The uploaded document: 202 when this upload queued an ingestion, 200 when the identical file was there."""
    check(response)
    return UploadedDocument.model_validate({**response.json(), "queued": response.status_code == 202})


def check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise error_from_response(response)


def given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def upload(
    file: FileInput,
    *,
    filename: str | None,
    groups: Sequence[str],
    title: str | None,
    source: str | None,
    tags: Sequence[str] | None,
    classification: str | None,
) -> Call:
    if isinstance(file, bytes):
        if not filename:
            raise ValueError("uploading bytes needs a filename (its extension tells the server the format)")
        content = file
    else:
        path = Path(file)
        content, filename = path.read_bytes(), filename or path.name
    if isinstance(groups, str):  # a lone group name would otherwise be sent letter by letter
        groups = [groups]
    form = given(title=title, source=source, classification=classification)
    form["groups"] = list(groups)
    if tags:
        form["tags"] = list(tags)
    return Call("POST", "/v1/documents", data=form, files={"file": (filename, content)})


def documents_page(*, offset: int, limit: int, **narrowing: str | None) -> Call:
    return Call("GET", "/v1/documents", params={"offset": offset, "limit": limit, **given(**narrowing)})


def jobs_page(*, offset: int, limit: int, status: str | None) -> Call:
    return Call("GET", "/v1/admin/jobs", params={"offset": offset, "limit": limit, **given(status=status)})


def next_offset(offset: int, received: int, total: int) -> int | None:
    """Where the next page starts, or None after the last one."""
    following = offset + received
    return following if received and following < total else None


def search(
    query: str,
    *,
    top_k: int | None,
    mode: str | None,
    filters: Filters | None,
    history: History | None,
    rewrite: str | None,
) -> Call:
    body = {"query": query, **_retrieval(top_k=top_k, mode=mode, filters=filters, history=history, rewrite=rewrite)}
    return Call("POST", "/v1/search", json=body)


class ChatOptions(TypedDict, total=False):
    """How a chat question is asked, beyond the question itself (`chat` and `chat_stream` of both clients).

    conversation_id: continue that conversation (the server keeps its history); history: earlier turns, for a
    stateless caller; top_k, mode, filters: how sources are retrieved; rewrite: how a follow-up is made standalone;
    priority: `interactive` or `batch`, honoured for keys allowed to claim it."""

    conversation_id: str | None
    history: History | None
    top_k: int | None
    mode: RetrievalMode | None
    filters: Filters | None
    rewrite: RewriteChoice | None
    priority: Priority | None


def chat(question: str, *, stream: bool, **options: Unpack[ChatOptions]) -> Call:
    unknown = sorted(set(options) - set(ChatOptions.__annotations__))
    if unknown:  # a typo must fail as it would against a plain signature, not be dropped without a word
        raise TypeError(f"chat() got unexpected keyword argument(s): {', '.join(unknown)}")
    retrieval = _retrieval(
        top_k=options.get("top_k"),
        mode=options.get("mode"),
        filters=options.get("filters"),
        history=options.get("history"),
        rewrite=options.get("rewrite"),
    )
    body = {
        "question": question,
        "stream": stream,
        **given(conversation_id=options.get("conversation_id"), priority=options.get("priority")),
        **retrieval,
    }
    return Call("POST", "/v1/chat", json=body)


def feedback(message_id: str, rating: str, comment: str) -> Call:
    return Call("POST", "/v1/feedback", json={"message_id": message_id, "rating": rating, "comment": comment})


def _retrieval(
    *, top_k: int | None, mode: str | None, filters: Filters | None, history: History | None, rewrite: str | None
) -> dict[str, Any]:
    body = given(top_k=top_k, mode=mode, rewrite=rewrite)
    if filters is not None:
        checked = filters if isinstance(filters, SearchFilters) else SearchFilters.model_validate(filters)
        body["filters"] = checked.model_dump(mode="json", exclude_defaults=True)
    if history:
        body["history"] = [HistoryTurn.model_validate(turn).model_dump() for turn in history]
    return body
