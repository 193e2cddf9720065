"""No input makes a 500: property-based requests to every operation of /openapi.json (schemathesis), valid and
invalid ones, against a real server with data in it, asserting no 5xx and responses that match the schema.

Path parameters are filled, every other example, with identifiers that exist (a document, a principal, a group,
a key), so the requests reach past the 404s into the code that handles them; the rest are what schemathesis
generates. The model server is absent: chat answers from sources (the default policy's fallback) or says it
does not know, both 200s. The examples are derandomized, so a failure reproduces."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from services.server import create_app
from tests.fixtures.documents import make_markdown
from tests.support.server import ServerThread
from tests.support.settings import ADMIN_KEY, auth, make_settings

EXAMPLES_PER_OPERATION_AND_MODE = 20


def _schema() -> Any:
    """The OpenAPI document, built without starting the app (routes only), so operations are known at collection."""
    with tempfile.TemporaryDirectory() as folder:
        return schemathesis.openapi.from_dict(create_app(make_settings(Path(folder))).openapi())


OPERATIONS = [result.ok() for result in _schema().get_all_operations()]
# Invalid requests exist only where there is a query or a body to get wrong (a path of plain strings has none).
CASES = [
    pytest.param(operation, mode, id=f"{name}-{operation.label}")
    for operation in OPERATIONS
    for mode, name in ((GenerationMode.POSITIVE, "valid"), (GenerationMode.NEGATIVE, "invalid"))
    if mode == GenerationMode.POSITIVE or len(operation.query) or len(operation.body)
]


@dataclass
class Served:
    url: str
    ids: dict[str, str]  # path parameter name -> an identifier that exists
    calls: Iterator[int]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("fuzz"))))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, headers=auth(ADMIN_KEY)) as client:
        document = client.post(
            "/v1/documents",
            files={"file": ("fuzz.md", make_markdown("Fuzz guide", [("Parking", "Visitors park on level two.")]))},
            data={"groups": "everyone"},
        ).json()
        key = client.post("/v1/admin/keys", json={"name": "fuzzy", "role": "user", "groups": ["everyone"]}).json()
        assert client.post("/v1/admin/groups", json={"name": "fuzzers", "clearance": "internal"}).status_code == 201
        ids = {
            "document_id": document["id"],
            "principal_id": key["principal_id"],
            "name": "fuzzers",
            "prefix": key["prefix"],
        }
        yield Served(server.url, ids, itertools.count())


READINESS = ("/readyz", "/v1/admin/readyz")


def deliberately_unavailable(path: str, response: Any) -> bool:
    """The one 5xx the API means: 503 when a backend is down (here the model server), saying which and when to
    come back. Anything else at 500 or above is a bug."""
    if response.status_code != 503:
        return False
    if path in READINESS:
        return response.json().get("ready") is False
    error = response.json().get("error", {})
    return error.get("code") == "llm_unavailable" and "Retry-After" in response.headers


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_no_input_makes_a_server_error(operation: Any, mode: GenerationMode, served: Served) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        if case.path_parameters and next(served.calls) % 2 == 0:
            case.path_parameters = {name: served.ids.get(name, value) for name, value in case.path_parameters.items()}
        response = case.call(base_url=served.url, headers=auth(ADMIN_KEY), timeout=60)
        if not deliberately_unavailable(case.path, response):
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        else:
            case.validate_response(response, checks=[response_schema_conformance])

    check()


@pytest.mark.parametrize("path", ["/v1/admin/unanswered", "/v1/documents", "/v1/admin/jobs", "/v1/admin/keys"])
def test_a_huge_offset_is_refused_not_a_server_error(served: Served, path: str) -> None:
    """Found by this fuzzer: an offset past what the database can hold answered 500 (SQLite integer overflow)."""
    response = httpx.get(
        f"{served.url}{path}", params={"offset": "94903942299279216726769664"}, headers=auth(ADMIN_KEY)
    )
    assert response.status_code == 422 and "offset" in response.json()["error"]["message"]
