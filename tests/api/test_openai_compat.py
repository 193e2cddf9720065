"""The OpenAI-compatible endpoint through the official `openai` SDK, unchanged but for base_url and the key:
its shapes parse, its errors become the SDK's typed errors, and what Steward cannot honour is refused clearly.
(With the model running: tests/e2e/test_openai_live.py.)"""

from __future__ import annotations

import openai
import pytest
from fastapi.testclient import TestClient

from services.core.access.keys import create_key
from services.core.db.session import session_scope
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api(assistants=[{"id": "steward"}, {"id": "hr-assistant", "tags": ["hr"]}])
    for name, text, tags in (
        ("canteen.md", "The canteen serves lunch from 11:45 until 14:00.", "food"),
        ("leave.md", "Parental leave is sixteen weeks at full pay.", "hr"),
    ):
        doc = upload(api, ADMIN_KEY, name, make_markdown(name, [("Facts", text)]), tags=tags)
        wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def sdk(api: TestClient, key: str = ADMIN_KEY) -> openai.OpenAI:
    # The TestClient is an httpx.Client: the SDK sends its real requests through it to the app.
    return openai.OpenAI(base_url="http://testserver/v1", api_key=key, http_client=api, max_retries=0)


def test_models_are_the_configured_assistants(api: TestClient) -> None:
    client = sdk(api)
    assert [m.id for m in client.models.list()] == ["steward", "hr-assistant"]
    assert client.models.retrieve("hr-assistant").owned_by == "steward"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"


def test_a_completion_is_a_steward_answer_with_its_sources(api: TestClient) -> None:
    key = issue_key(api, "sdk-user", "user", ["everyone"])
    completion = sdk(api, key).chat.completions.create(
        model="steward", messages=[{"role": "user", "content": "When does the canteen serve lunch?"}]
    )
    # No model runs in this module: the answer is quoted from the sources, still a valid completion.
    content = completion.choices[0].message.content or ""
    assert "11:45" in content and "[1]" in content
    assert completion.choices[0].finish_reason == "stop"
    extension = completion.model_extra["steward"]  # type: ignore[index]
    assert extension["mode"] == "extractive"
    assert extension["citations"][0]["title"] == "canteen.md" and extension["citations"][0]["source"] == 1
    assert completion.usage is not None and completion.usage.total_tokens >= 0
    assert completion.id.startswith("chatcmpl-")


def test_the_model_id_scopes_the_knowledge(api: TestClient) -> None:
    client = sdk(api)
    question = [{"role": "user", "content": "When does the canteen serve lunch?"}]
    scoped = client.chat.completions.create(model="hr-assistant", messages=question)  # type: ignore[arg-type]
    assert "11:45" not in (scoped.choices[0].message.content or "")
    assert scoped.model_extra["steward"]["mode"] == "not_found"  # type: ignore[index]


def test_streaming_arrives_as_openai_chunks(api: TestClient) -> None:
    stream = sdk(api).chat.completions.create(
        model="steward",
        messages=[{"role": "user", "content": "When does the canteen serve lunch?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "11:45" in text
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["steward"]["citations"][0]["title"] == "canteen.md"  # type: ignore[index]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"stop": ["\n"]}, "stop"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"temperature": 7}, "temperature"),
    ],
)
def test_what_steward_cannot_honour_is_refused_naming_the_parameter(
    api: TestClient, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(api).chat.completions.create(
            model="steward", messages=[{"role": "user", "content": "Hello?"}], extra_body=extra
        )
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == param and body["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "steward", "messages": []}, "messages"),
        ({"model": "steward"}, "messages"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "steward", "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"model": "steward", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0]"),
        ({"model": "steward", "messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "messages[0]"),
        ({"model": "steward", "messages": [{"role": "user", "content": "x" * 5000}]}, "messages"),
        ({"model": "steward", "messages": "hello"}, "messages"),
    ],
)
def test_malformed_requests_get_openai_shaped_400s(api: TestClient, body: dict[str, object], param: str) -> None:
    response = api.post("/v1/chat/completions", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"].startswith(param), error


def test_broken_json_and_bad_keys_get_openai_errors(api: TestClient) -> None:
    headers = {**auth(ADMIN_KEY), "Content-Type": "application/json"}
    broken = api.post("/v1/chat/completions", content=b'{"model": "steward", "messages": [', headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    with pytest.raises(openai.AuthenticationError):
        sdk(api, "stw_not_a_key").models.list()
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        search_only = create_key(session, "search-only", "app", [], scopes=["search"]).key
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk(api, search_only).chat.completions.create(model="steward", messages=[{"role": "user", "content": "hi"}])
    assert "chat" in caught.value.message
