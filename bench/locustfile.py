"""A working day's mixed traffic on Steward, for Locust (run by bench/load.py, or by hand:
`locust -f bench/locustfile.py --host http://127.0.0.1:8000`, with STEWARD_API_KEY set).

- Employees chat through the SSE stream and ask a follow-up in the same conversation; the time to the first
  token that shows text is reported as its own entry ("chat: first token", "chat follow-up: first token").
- Apps call `/v1/search` and the OpenAI-compatible `/v1/chat/completions`.
- Admins upload small batches of new articles; every accepted upload's id is appended to
  $STEWARD_LOAD_DIR/uploads.jsonl, so the run can check afterwards that each one ended ready or failed, once.

Every response is counted by status in $STEWARD_LOAD_DIR/statuses.json when Locust stops. A 429 or 503 is a
clean refusal (it must carry Retry-After); a 500, a hang (timeout), a dropped connection or a stream that ends
without `done` or `error` is a failure.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_traffic import ARTICLE, CONVERSATIONS, FRESH

OUT = Path(os.environ.get("STEWARD_LOAD_DIR", "."))
KEY = os.environ.get("STEWARD_API_KEY", "")
TIMEOUT_S = float(os.environ.get("STEWARD_LOAD_TIMEOUT_S", "120"))
CLEAN_REFUSALS = (429, 503)

_statuses: Counter[str] = Counter()
_lock = threading.Lock()


def count(status: int | str) -> None:
    with _lock:
        _statuses[str(status)] += 1


@events.quitting.add_listener
def _write_statuses(environment: Any, **_: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "statuses.json").write_text(json.dumps(dict(_statuses), indent=2, sort_keys=True))


def judge(response: Any, expected: tuple[int, ...] = (200,)) -> None:
    """Mark a response as Locust should count it: expected statuses and clean refusals pass, the rest fail."""
    count(response.status_code)
    if response.status_code in expected:
        response.success()
    elif response.status_code in CLEAN_REFUSALS:
        if response.headers.get("Retry-After"):
            response.success()
        else:
            response.failure(f"{response.status_code} without Retry-After")
    else:
        response.failure(f"status {response.status_code}: {response.text[:200]}")


class Steward(HttpUser):
    abstract = True

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {KEY}"


class Employee(Steward):
    """Chats through the stream, then asks a follow-up in the same conversation."""

    weight = 4
    wait_time = between(2, 6)

    @task
    def conversation(self) -> None:
        if random.random() < 0.5 and CONVERSATIONS:
            opening, follow_up = random.choice(CONVERSATIONS)
        else:
            opening, follow_up = random.choice(FRESH), ""
        conversation_id = self.chat(opening, None, "chat")
        if follow_up and conversation_id:
            self.chat(follow_up, conversation_id, "chat follow-up")

    def chat(self, question: str, conversation_id: str | None, name: str) -> str | None:
        """One streamed answer; returns its conversation id. The first token's delay is its own Locust entry."""
        body: dict[str, Any] = {"question": question, "stream": True}
        if conversation_id:
            body["conversation_id"] = conversation_id
        started = time.perf_counter()
        first_token_ms: float | None = None
        event, ended = "", ""
        with self.client.post(
            "/v1/chat", json=body, name=name, stream=True, catch_response=True, timeout=TIMEOUT_S
        ) as response:
            if response.status_code != 200:
                judge(response)
                return None
            try:
                for raw in response.iter_lines(decode_unicode=True):
                    line = raw or ""
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                        if event in ("done", "error"):
                            ended = event
                    elif line.startswith("data:"):
                        data = json.loads(line.removeprefix("data:"))
                        if event == "meta":
                            conversation_id = data.get("conversation_id", conversation_id)
                        elif event == "token" and first_token_ms is None and str(data.get("text", "")).strip():
                            first_token_ms = (time.perf_counter() - started) * 1000
                        elif event == "error":
                            # A clean, reasoned stream error (the model went away mid-answer): not a 500.
                            count(f"stream-error:{(data.get('error') or {}).get('code', '?')}")
            except Exception as exc:  # a dropped connection or a read timeout mid-stream
                count("broken-stream")
                response.failure(f"stream broken: {exc!r}")
                return None
            count(200)
            if not ended:
                count("stream-without-end")
                response.failure("the stream ended without a done or error event")
                return None
            response.success()
        if first_token_ms is not None:
            events.request.fire(
                request_type="SSE",
                name=f"{name}: first token",
                response_time=first_token_ms,
                response_length=0,
                exception=None,
                context={},
            )
        return conversation_id


class SearchApp(Steward):
    """A business app searching the documents."""

    weight = 4
    wait_time = between(0.5, 2)

    @task
    def search(self) -> None:
        with self.client.post(
            "/v1/search",
            json={"query": random.choice(FRESH), "top_k": 5},
            name="/v1/search",
            catch_response=True,
            timeout=TIMEOUT_S,
        ) as response:
            judge(response)


class OpenAIApp(Steward):
    """An app on the OpenAI-compatible endpoint (non-streaming)."""

    weight = 1
    wait_time = between(5, 10)

    @task
    def complete(self) -> None:
        with self.client.post(
            "/v1/chat/completions",
            json={"model": "steward", "messages": [{"role": "user", "content": random.choice(FRESH)}]},
            name="/v1/chat/completions",
            catch_response=True,
            timeout=TIMEOUT_S,
        ) as response:
            judge(response)


class Admin(Steward):
    """An admin uploading a batch of new articles now and then."""

    weight = 1
    wait_time = between(10, 20)

    @task
    def upload_batch(self) -> None:
        for _ in range(3):
            reference = uuid.uuid4().hex[:10]
            text = ARTICLE.format(
                title=f"Procedure {reference}",
                topic=random.choice(["Travel booking", "Laptop repair", "Badge renewal", "Expense approval"]),
                team=random.choice(["facilities", "IT", "finance", "people"]),
                days=random.randint(1, 9),
                reference=reference,
            )
            source = f"load/{reference}.md"
            with self.client.post(
                "/v1/documents",
                files={"file": (f"{reference}.md", text.encode())},
                data={"groups": "everyone", "source": source},
                name="/v1/documents",
                catch_response=True,
                timeout=TIMEOUT_S,
            ) as response:
                judge(response, expected=(202,))
                if response.status_code == 202:
                    with _lock, (OUT / "uploads.jsonl").open("a") as log:
                        log.write(json.dumps({"id": response.json()["id"], "source": source}) + "\n")
