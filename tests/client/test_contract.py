"""The client's models are the server's wire shapes: each has exactly the fields of its schema in the committed
OpenAPI snapshot, so a field the server adds (or drops) fails here until the client follows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from services.client import calls, models

SNAPSHOT = Path(__file__).parents[1] / "data" / "openapi.json"

MODELS_BY_SCHEMA: list[tuple[type[BaseModel], str]] = [
    (models.Document, "DocumentOut"),
    (models.DocumentList, "DocumentList"),
    (models.SearchHit, "SearchHit"),
    (models.NearestDocument, "NearestDocumentOut"),
    (models.SearchResult, "SearchResponse"),
    (models.Passage, "PassageOut"),
    (models.Citation, "Citation"),
    (models.Sentence, "SentenceOut"),
    (models.ChatAnswer, "ChatResponse"),
    (models.Job, "JobOut"),
    (models.JobList, "JobList"),
    (models.IndexDrift, "DriftOut"),
    (models.Feedback, "FeedbackOut"),
    (models.ErrorDetail, "ErrorDetail"),
    (models.HistoryTurn, "HistoryTurn"),
    (models.SearchFilters, "SearchFilterFields"),
]


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    found: dict[str, Any] = spec["components"]["schemas"]
    return found


@pytest.mark.parametrize(("model", "schema"), MODELS_BY_SCHEMA, ids=[name for _, name in MODELS_BY_SCHEMA])
def test_each_model_has_the_fields_of_its_schema(model: type[BaseModel], schema: str, schemas: dict[str, Any]) -> None:
    assert set(model.model_fields) == set(schemas[schema]["properties"])


def test_usage_has_the_fields_of_the_answers_usage(schemas: dict[str, Any]) -> None:
    usage = schemas["ChatResponse"]["properties"].get("usage")
    if usage is None:
        pytest.fail("ChatResponse has no usage in the snapshot: drop Usage from the client, or refresh the snapshot")
    ref = next(option["$ref"] for option in usage.get("anyOf", [usage]) if "$ref" in option)
    assert set(models.Usage.model_fields) == set(schemas[ref.rsplit("/", 1)[1]]["properties"])


def test_requests_send_only_fields_the_server_takes(schemas: dict[str, Any]) -> None:
    everything = {"top_k": 3, "mode": "dense", "filters": {"tags": ["x"]}, "history": [], "rewrite": "off"}
    search = calls.search("q", **everything)
    chat = calls.chat("q", stream=True, conversation_id="c", priority="batch", **everything)
    feedback = calls.feedback("m", "up", "")
    assert search.json and set(search.json) <= set(schemas["SearchRequest"]["properties"])
    assert chat.json and set(chat.json) <= set(schemas["ChatRequest"]["properties"])
    assert feedback.json and set(feedback.json) <= set(schemas["FeedbackCreate"]["properties"])
    upload = calls.upload(b"x", filename="a.md", groups=["g"], title="t", source="s", tags=["x"], classification="x")
    form = schemas["Body_upload_document_v1_documents_post"]["properties"]
    assert upload.data and set(upload.data) | {"file"} <= set(form)
