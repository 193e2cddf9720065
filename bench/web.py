"""The browser faces, measured: the widget's size, what the browser adds to the first token, and the admin
console's documents page with 10,000 documents.

Starts its own vLLM and `steward serve` (embedded profile) in a throwaway data dir with 10,000 document rows
seeded, a host intranet on another origin that mints widget tokens, and Debian's chromium driven by Playwright.
Prints `name=value` lines. Baselines from the same run: `api_first_token_p50_ms` (the same question streamed by
a plain HTTP client with the same user token) for the widget; `admin_documents_api_p50_ms` (the same page of the
documents API) for the console.

    python bench/web.py [--questions 12] [--documents 10000] [--loads 7]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page, sync_playwright

from services.core.db import migrate
from services.core.db.models import Document, new_id, utcnow
from services.core.db.session import make_engine
from tests.fixtures.documents import make_markdown
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, HostSite
from tests.support.processes import ChildProcess, free_port
from tests.support.tokens import mint

ROOT = Path(__file__).resolve().parents[1]
ADMIN_KEY = "stw_bench_admin_key_8d2e5b1f9c4a7e0b3d6f"
DOCUMENTS = [
    ("parking.md", "Parking guide", "The parking garage opens at 6:30 every weekday. Visitors park on level -2."),
    ("helpdesk.md", "IT helpdesk", "The IT helpdesk is reachable on extension 4357, Monday to Friday."),
    ("canteen.md", "Canteen", "The canteen serves lunch from 11:45 until 14:00; soup costs 3 francs."),
    ("travel.md", "Travel policy", "Employees book second-class train tickets for trips under four hours."),
]
QUESTIONS = [
    "What time does the parking garage open?",
    "What is the extension of the IT helpdesk?",
    "When does the canteen serve lunch?",
    "Which train class do employees book?",
]


def emit(name: str, value: float | int) -> None:
    print(f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}", flush=True)


def widget_gzip_kb() -> float:
    script = ROOT / "web" / "dist" / "widget" / "steward.js"
    if not script.is_file():
        sys.exit("web/dist/widget/steward.js is missing: run `make web`")
    return len(gzip.compress(script.read_bytes(), compresslevel=9)) / 1024


def seed_documents(database_url: str, count: int) -> None:
    """`count` ready document rows, as a big deployment's table holds them (no vectors: only the listing reads them)."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "title": f"Seeded handbook {n:05d}",
            "filename": f"handbook-{n:05d}.md",
            "format": "markdown",
            "content_type": "text/markdown",
            "size_bytes": 2048,
            "sha256": f"{n:064x}",
            "groups": ["everyone"],
            "classification": "internal",
            "tags": ["seeded"],
            "version": 1,
            "indexed_version": 1,
            "status": "ready",
            "stage": "done",
            "progress": 100,
            "chunk_count": 3,
            "storage_path": f"seeded/{n}",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(Document.__table__.insert(), rows)
    engine.dispose()


def api_first_token_ms(client: httpx.Client, question: str) -> float:
    """Milliseconds from sending the question to the first token event with text, as a plain client sees it
    (its connection kept alive, as the browser's is)."""
    started = time.perf_counter()
    event, first = "", 0.0
    with client.stream("POST", "/v1/chat", json={"question": question, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif (
                event == "token"
                and not first
                and line.startswith("data:")
                and json.loads(line.removeprefix("data:"))["text"].strip()
            ):
                first = (time.perf_counter() - started) * 1000
    return first


def browser_first_token_ms(page: Page, question: str) -> float:
    """Milliseconds from asking in the widget to the first token painted (its `steward:token` event)."""
    elapsed: float = page.evaluate(
        """(q) => new Promise((resolve, reject) => {
            const el = document.querySelector('steward-chat');
            el.newConversation();
            let started = 0, first = 0;
            const token = (e) => { if (!first) first = e.detail.at; };
            const done = () => { cleanup(); resolve(first - started); };
            const failed = (e) => { cleanup(); reject(new Error(JSON.stringify(e.detail))); };
            const cleanup = () => {
                document.removeEventListener('steward:token', token);
                document.removeEventListener('steward:done', done);
                document.removeEventListener('steward:error', failed);
            };
            document.addEventListener('steward:token', token);
            document.addEventListener('steward:done', done);
            document.addEventListener('steward:error', failed);
            started = performance.now();
            el.ask(q);
        })""",
        question,
    )
    return elapsed


def bench_widget(page: Page, client: httpx.Client, host: HostSite, questions: int) -> None:
    page.goto(host.page_url())
    page.locator('[data-part="launcher"]').click()
    # Warm both paths once: the token fetch, the CORS preflight, the prefix cache of each question.
    for question in QUESTIONS:
        browser_first_token_ms(page, question)
        api_first_token_ms(client, question)
    api, browser, overhead = [], [], []
    for n in range(questions):
        question = QUESTIONS[n % len(QUESTIONS)]
        # Alternate which goes first, so neither always finds the other's work in vLLM's cache.
        if n % 2:
            b = browser_first_token_ms(page, question)
            a = api_first_token_ms(client, question)
        else:
            a = api_first_token_ms(client, question)
            b = browser_first_token_ms(page, question)
        api.append(a)
        browser.append(b)
        overhead.append(b - a)
    emit("api_first_token_p50_ms", statistics.median(api))
    emit("browser_first_token_p50_ms", statistics.median(browser))
    emit("browser_first_token_overhead_ms", statistics.median(overhead))


def bench_console(page: Page, url: str, loads: int) -> None:
    response = page.request.post(f"{url}/v1/admin/session", data={"key": ADMIN_KEY})
    assert response.ok, response.text()
    timings, api = [], []
    for n in range(loads):
        page.goto("about:blank")  # a full load each time, not a same-document hash change
        started = time.perf_counter()
        page.goto(f"{url}/admin/#/documents")
        page.locator('[data-testid="doc-row"]').nth(49).wait_for(timeout=30_000)
        timings.append((time.perf_counter() - started) * 1000)
        if n == 0:  # nothing cached yet: the console's script and styles come over the wire
            emit("admin_documents_page_first_load_ms", timings[0])
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
            started = time.perf_counter()
            client.get("/v1/documents?limit=50&offset=0").raise_for_status()
            api.append((time.perf_counter() - started) * 1000)
    total = page.locator('[data-testid="doc-row"]').count()
    emit("admin_documents_rows_shown", total)
    emit("admin_documents_api_p50_ms", statistics.median(api))
    emit("admin_documents_page_ms", statistics.median(timings))
    # The next page of the 10,000, from the pager, to its first new row painted.
    first_title = page.locator('[data-testid="doc-row"]').first.inner_text()
    started = time.perf_counter()
    page.get_by_test_id("pager-next").click()
    page.wait_for_function(
        "(t) => { const r = document.querySelector('[data-testid=\"doc-row\"]'); return r && r.innerText !== t; }",
        arg=first_title,
    )
    emit("admin_documents_next_page_ms", (time.perf_counter() - started) * 1000)
    # Searching the 10,000 titles from the console's search box, to the filtered rows painted.
    started = time.perf_counter()
    page.locator('[data-testid="doc-search"]').fill("handbook 09999")
    page.locator('[data-testid="doc-row"]', has_text="09999").first.wait_for(timeout=30_000)
    emit("admin_documents_search_ms", (time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args()
    emit("widget_js_gzip_kb", widget_gzip_kb())

    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    workdir = Path(tempfile.mkdtemp(prefix="steward-bench-web-"))
    (workdir / "data").mkdir()
    seed_documents(f"sqlite:///{workdir / 'data' / 'steward.sqlite'}", args.documents)
    cache_dir = default_cache_dir()
    llm = VLLMServer(
        build_servable_model(cache_dir), port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(workdir / "data"),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
        "STEWARD_LLM_MANAGE_SERVER": "false",
        "STEWARD_LLM_TEMPERATURE": "0",
        "STEWARD_PORT": str(port),
    }
    with llm:
        env["STEWARD_LLM_BASE_URL"] = llm.base_url
        server = ChildProcess([str(Path(sys.executable).parent / "steward"), "serve"], env, workdir / "serve.log")
        host_server = None
        try:
            server.wait_http(f"{url}/healthz", timeout_s=180)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) as client:
                ids = []
                for filename, title, text in DOCUMENTS:
                    data = make_markdown(title, [("Facts", text)])
                    response = client.post(
                        "/v1/documents", files={"file": (filename, data)}, data={"groups": "everyone"}
                    )
                    ids.append(response.json()["id"])
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    states = {client.get(f"/v1/documents/{i}").json()["status"] for i in ids}
                    if states <= {"ready", "failed"}:
                        break
                    time.sleep(0.3)
                host = HostSite(steward_url=url, mint=lambda *_: "", site_id="", users={"ann": ["everyone"]})
                site = client.post(
                    "/v1/admin/sites", json={"name": "bench", "origins": [host.origin], "groups": ["everyone"]}
                ).json()
            host.site_id = site["id"]
            host.mint = lambda site_id, sub, groups, _mode: mint(site_id, site["secret"], sub, groups)
            host_server = host.serve()
            token = mint(site["id"], site["secret"], "ann", ["everyone"])
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context()
                context.add_cookies([{"name": "user", "value": "ann", "url": host.origin}])
                headers = {"Authorization": f"Bearer {token}", "Origin": host.origin}
                with httpx.Client(base_url=url, headers=headers, timeout=300) as user:
                    bench_widget(context.new_page(), user, host, args.questions)
                bench_console(browser.new_context().new_page(), url, args.loads)
                browser.close()
        finally:
            if host_server is not None:
                host_server.shutdown()
            server.stop()


if __name__ == "__main__":
    main()
