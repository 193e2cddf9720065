"""The admin console in a real browser against the real stack: sign-in, documents, access, oversight, usage.
Every screen is screenshotted (test-artifacts/screenshots) and checked with axe-core."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.fixtures.documents import make_markdown
from tests.support.browser import axe_violations, screenshot
from tests.support.settings import ADMIN_KEY, auth
from tests.web.conftest import WebStack

pytestmark = pytest.mark.slow

SCREENS = {
    "documents": "#/documents",
    "access-groups": "#/access/groups",
    "access-keys": "#/access/keys",
    "access-sites": "#/access/sites",
    "oversight-audit": "#/oversight/audit",
    "oversight-unanswered": "#/oversight/unanswered",
    "oversight-feedback": "#/oversight/feedback",
    "oversight-queue": "#/oversight/queue",
    "usage": "#/usage",
}


def sign_in(context: BrowserContext, stack: WebStack) -> Page:
    page = context.new_page()
    page.goto(f"{stack.url}/admin/")
    page.get_by_test_id("signin-key").fill(ADMIN_KEY)
    page.get_by_test_id("signin-submit").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def goto(page: Page, stack: WebStack, route: str) -> None:
    page.goto(f"{stack.url}/admin/{route}")
    page.wait_for_function("(route) => location.hash === route", arg=route)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("main")).not_to_have_attribute("data-loading", re.compile(".*"))


def user_key(stack: WebStack, name: str, groups: str) -> str:
    with stack.api() as client:
        response = client.post("/v1/admin/keys", json={"name": name, "role": "user", "groups": groups.split(",")})
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


def test_sign_in_keeps_no_key_in_the_browser_and_every_screen_passes_axe(
    context: BrowserContext, web_stack: WebStack
) -> None:
    page = context.new_page()
    page.goto(f"{web_stack.url}/admin/")
    expect(page.get_by_test_id("signin-key")).to_be_visible()
    screenshot(page, "admin-sign-in")
    assert axe_violations(page) == []
    page.get_by_test_id("signin-key").fill("stw_wrong_key")
    page.get_by_test_id("signin-submit").click()
    refusal = page.get_by_role("alert").filter(has_text=re.compile("invalid|revoked|expired", re.I))
    expect(refusal).to_be_visible()
    page.get_by_test_id("signin-key").fill(ADMIN_KEY)
    page.get_by_test_id("signin-submit").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    stored = page.evaluate(
        "() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage}) + document.cookie"
    )
    assert ADMIN_KEY not in stored and "steward_session" not in stored  # the session cookie is HttpOnly
    failures = {}
    for name, route in SCREENS.items():
        goto(page, web_stack, route)
        if name == "usage":
            expect(page.get_by_test_id("chart-requests").locator("canvas")).to_be_visible()
        screenshot(page, f"admin-{name}", full_page=True)
        found = axe_violations(page)
        if found:
            failures[name] = found
    assert failures == {}


def test_three_dropped_files_upload_and_reach_ready(context: BrowserContext, web_stack: WebStack) -> None:
    page = sign_in(context, web_stack)
    goto(page, web_stack, "#/documents")
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    files = [
        (f"dropped-{n}.md", make_markdown(f"Dropped note {n}", [("Body", f"Dropped fact number {n} is {n * 7}.")]))
        for n in range(3)
    ]
    page.evaluate(
        """([zone, files]) => {
            const transfer = new DataTransfer();
            for (const [name, text] of files) transfer.items.add(new File([text], name, {type: 'text/markdown'}));
            const target = document.querySelector(zone);
            for (const type of ['dragenter', 'dragover', 'drop'])
                target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
        }""",
        ['[data-testid="dropzone"]', [(name, data.decode()) for name, data in files]],
    )
    rows = page.get_by_test_id("upload-row")
    expect(rows).to_have_count(3)
    for n in range(3):
        expect(rows.nth(n)).to_have_attribute("data-status", "ready", timeout=120_000)
    screenshot(page, "admin-documents-uploaded", full_page=True)
    page.get_by_test_id("doc-search").fill("Dropped note")
    expect(page.get_by_test_id("doc-row")).to_have_count(3)


def test_narrowing_a_documents_groups_in_the_console_takes_access_away_at_once(
    context: BrowserContext, web_stack: WebStack
) -> None:
    with web_stack.api() as client:
        data = make_markdown("Locker rules", [("Lockers", "Lockers on floor three use the code KESTREL-19.")])
        document = client.post("/v1/documents", files={"file": ("lockers.md", data)}, data={"groups": "everyone"})
        document_id = document.json()["id"]
        for _ in range(600):
            if client.get(f"/v1/documents/{document_id}").json()["status"] == "ready":
                break
            time.sleep(0.2)
    person = user_key(web_stack, "locker-user", "everyone")

    def sees_it() -> bool:
        with httpx.Client(base_url=web_stack.url, headers=auth(person), timeout=60) as client:
            hits = client.post("/v1/search", json={"query": "locker code floor three"}).json()["results"]
        return any("KESTREL-19" in hit["text"] for hit in hits)

    assert sees_it()
    page = sign_in(context, web_stack)
    goto(page, web_stack, "#/documents")
    page.get_by_test_id("doc-search").fill("Locker rules")
    row = page.locator(f'[data-testid="doc-row"][data-id="{document_id}"]')
    expect(row).to_have_count(1)
    row.get_by_test_id("doc-edit").click()
    page.get_by_test_id("edit-groups").fill("hr")
    screenshot(page, "admin-edit-document")
    page.get_by_test_id("edit-save").click()
    expect(row).to_contain_text("hr")
    assert not sees_it()


def test_revoking_a_key_in_the_console_refuses_it_at_once(context: BrowserContext, web_stack: WebStack) -> None:
    key = user_key(web_stack, "leaver", "everyone")
    prefix = key.split("_")[1]
    with httpx.Client(base_url=web_stack.url, headers=auth(key)) as client:
        assert client.post("/v1/search", json={"query": "parking"}).status_code == 200
    page = sign_in(context, web_stack)
    goto(page, web_stack, "#/access/keys")
    row = page.locator(f'[data-testid="key-row"][data-prefix="{prefix}"]')
    expect(row).to_have_attribute("data-status", "active")
    row.get_by_test_id("key-revoke").click()
    page.get_by_test_id("confirm-yes").click()
    expect(row).to_have_attribute("data-status", "revoked")
    with httpx.Client(base_url=web_stack.url, headers=auth(key)) as client:
        assert client.post("/v1/search", json={"query": "parking"}).status_code == 401


def test_the_audit_chain_verifies_from_the_console(context: BrowserContext, web_stack: WebStack) -> None:
    page = sign_in(context, web_stack)
    goto(page, web_stack, "#/oversight/audit")
    page.get_by_test_id("verify-chain").click()
    result = page.get_by_test_id("verify-result")
    expect(result).to_have_attribute("data-ok", "true")
    with web_stack.api() as client:
        rows = client.post("/v1/admin/audit/verify").json()["rows"]
    assert rows > 0
    expect(result).to_contain_text(re.compile(r"\d"))
    screenshot(page, "admin-audit-verified", full_page=True)


def shown_as(number: int) -> re.Pattern[str]:
    """`number` as the page writes it: its digits in order, with any separators or words around them."""
    return re.compile(r"^\D*" + r"\D?".join(str(number)) + r"\D*$")


def test_usage_charts_show_the_numbers_in_the_audit_log(context: BrowserContext, web_stack: WebStack) -> None:
    person = user_key(web_stack, "chart-user", "everyone")
    with httpx.Client(base_url=web_stack.url, headers=auth(person), timeout=300) as client:
        for question in ("What time does the parking garage open?", "What is the IT helpdesk extension?"):
            client.post("/v1/chat", json={"question": question}).raise_for_status()
    with web_stack.api() as client:
        usage = client.get("/v1/admin/usage?days=14").json()
    requests = sum(day["requests"] for day in usage["days"])
    tokens = sum(day["tokens"] for day in usage["days"])
    assert requests >= 2 and tokens > 0
    page = sign_in(context, web_stack)
    goto(page, web_stack, "#/usage")
    # The totals are filled in when the usage request returns: wait for them (reading at once raced the fetch).
    expect(page.get_by_test_id("total-requests")).to_have_text(shown_as(requests))
    expect(page.get_by_test_id("total-tokens")).to_have_text(shown_as(tokens))
    for chart in ("chart-requests", "chart-tokens", "chart-quality", "chart-latency", "chart-top-documents"):
        canvas = page.get_by_test_id(chart).locator("canvas")
        expect(canvas).to_be_visible()
        box = canvas.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
    # The most cited document is named in the chart's text alternative.
    top = usage["top_documents"][0]["title"]
    expect(page.get_by_test_id("chart-top-documents")).to_contain_text(top)
    screenshot(page, "admin-usage", full_page=True)
