"""Errors that say when to come back: a deployment with no sources-only fallback (the model is down) and a
quota of one question a minute."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from services.client import MetaEvent, RateLimitError, StewardClient, StewardError, UnavailableError
from tests.support.api import ClientFactory, issue_key
from tests.support.corpus import seed
from tests.support.settings import ADMIN_KEY

POLICY = """rules:
  - {id: acl, type: acl}
  - {id: quota.tight, type: quota, scope: user, roles: [user], window: minute, requests: 1}
"""


@pytest.fixture(scope="module")
def strict_api(embedded_api: ClientFactory, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    policies = tmp_path_factory.mktemp("policies")
    (policies / "rules.yaml").write_text(POLICY)
    api = embedded_api(policies_dir=policies)
    seed(api)
    return api


def client_as(api: TestClient, key: str) -> StewardClient:
    return StewardClient(str(api.base_url), key, http_client=api)


def test_a_model_that_is_down_is_unavailable_with_retry_after(strict_api: TestClient) -> None:
    with pytest.raises(UnavailableError) as raised:
        client_as(strict_api, ADMIN_KEY).chat("What is the guest Wi-Fi password?")
    assert raised.value.status == 503 and raised.value.code == "llm_unavailable"
    assert raised.value.retry_after is not None and raised.value.retry_after > 0
    assert not raised.value.streamed


def test_a_stream_whose_model_is_down_raises_after_its_meta_event(strict_api: TestClient) -> None:
    received = []
    with pytest.raises(UnavailableError) as raised:
        for event in client_as(strict_api, ADMIN_KEY).chat_stream("What is the guest Wi-Fi password?"):
            received.append(event)
    assert isinstance(received[0], MetaEvent)
    assert raised.value.streamed and raised.value.code == "llm_unavailable" and raised.value.status == 503


def test_a_spent_quota_is_a_rate_limit_with_retry_after(strict_api: TestClient) -> None:
    person = client_as(strict_api, issue_key(strict_api, "hasty", "user", ["everyone"]))
    # Quota windows are aligned to the UTC minute: two calls straddling its end would count in two windows (a CI
    # run once saw the second call pass the quota and meet the open circuit instead).
    into_minute = time.time() % 60
    if into_minute > 50:
        time.sleep(60.5 - into_minute)
    with pytest.raises(StewardError):  # the one question of the minute (the model is down: 503)
        person.chat("What is the guest Wi-Fi password?")
    with pytest.raises(RateLimitError) as raised:
        person.chat("What is the guest Wi-Fi password?")
    assert raised.value.status == 429 and raised.value.code == "quota_exceeded"
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 60
