"""The chat widget in a real browser: embedded on another origin with tokens its backend mints, against the real
stack (steward serve, vLLM). Screenshots land in test-artifacts/screenshots."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.support.browser import axe_violations, screenshot
from tests.support.stack import vllm_running
from tests.support.tokens import early_in_a_minute
from tests.web.conftest import WebStack

pytestmark = pytest.mark.slow

ANSWER = '[data-part="message"][data-role="assistant"]'
# Listeners on the page for the widget's events; each token records what was on screen when it was painted.
RECORD_EVENTS = """() => {
  window.__events = [];
  const answer = () => {
    const all = document.querySelector('steward-chat').shadowRoot
      .querySelectorAll('[data-part="message"][data-role="assistant"]');
    return all[all.length - 1];
  };
  for (const name of ['steward:token', 'steward:done', 'steward:error']) {
    document.addEventListener(name, (e) => {
      const last = answer();
      window.__events.push({
        type: name, at: performance.now(), detail: name === 'steward:token' ? null : e.detail,
        state: last ? last.dataset.state : null,
        shown: last ? last.querySelector('[data-part="answer"]').textContent : '',
      });
    });
  }
}"""


def open_widget(context: BrowserContext, stack: WebStack, user: str = "alice", url: str | None = None) -> Page:
    context.add_cookies([{"name": "user", "value": user, "url": stack.host.origin}])
    page = context.new_page()
    page.goto(url or stack.host.page_url())
    page.evaluate(RECORD_EVENTS)
    page.locator('[data-part="launcher"]').click()
    expect(page.locator('[data-part="panel"]')).to_be_visible()
    return page


def ask(page: Page, question: str) -> None:
    page.locator('[data-part="input"]').fill(question)
    page.locator('[data-part="input"]').press("Enter")


def last_answer(page: Page) -> Locator:
    return page.locator(ANSWER).last


def finished(page: Page, state: str = "done", timeout_ms: int = 180_000) -> Locator:
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-state", state, timeout=timeout_ms)
    return answer


def events(page: Page) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = page.evaluate("() => window.__events")
    return recorded


def test_the_answer_streams_in_holds_the_fact_and_its_chip_opens_the_passage(
    context: BrowserContext, web_stack: WebStack
) -> None:
    page = open_widget(context, web_stack)
    screenshot(page, "widget-open")
    ask(page, "What time does the parking garage open?")
    answer = finished(page)
    recorded = events(page)
    tokens = [e for e in recorded if e["type"] == "steward:token"]
    done = next(e for e in recorded if e["type"] == "steward:done")
    # Painted while the answer was still streaming, before it ended.
    assert tokens and tokens[0]["state"] == "streaming" and tokens[0]["shown"].strip()
    assert tokens[0]["at"] < done["at"]
    assert done["detail"]["generated"] is True
    assert "6:30" in answer.locator('[data-part="answer"]').inner_text()
    chip = answer.locator('[data-part="chip"]').first
    expect(chip).to_have_attribute("aria-expanded", "false")
    chip.click()
    passage = answer.locator('[data-part="source-panel"]')
    expect(passage).to_be_visible()
    expect(passage).to_contain_text("Parking guide")
    expect(passage).to_contain_text("opens at 6:30 every weekday")
    screenshot(page, "widget-answer-with-source")
    # The host's hostile CSS (hot pink, dashed lime buttons) does not reach inside the widget.
    background = page.locator('[data-part="send"]').evaluate("b => getComputedStyle(b).backgroundColor")
    assert background != "rgb(255, 105, 180)"
    spacing = answer.locator('[data-part="answer"]').evaluate("e => getComputedStyle(e).letterSpacing")
    assert spacing == "normal"


def test_an_unsupported_sentence_is_marked(context: BrowserContext, web_stack: WebStack) -> None:
    page = open_widget(context, web_stack)
    # Greedy decoding makes the embedded model's answer repeatable: it invents numbers the sources do not hold.
    ask(page, "Tell me everything about the parking garage.")
    answer = finished(page)
    done = next(e for e in events(page) if e["type"] == "steward:done")["detail"]
    unsupported = [s for s in done["sentences"] if not s["supported"] and s["shown"]]
    assert unsupported, done
    marked = answer.locator('[data-part="sentence"][data-supported="false"]')
    expect(marked.first).to_be_visible()
    assert marked.count() == len(unsupported)
    describedby = marked.first.get_attribute("aria-describedby")
    assert describedby and answer.locator(f"#{describedby}").inner_text().strip()
    screenshot(page, "widget-unsupported-sentence")


def test_an_hr_user_never_sees_an_eng_document(context: BrowserContext, web_stack: WebStack) -> None:
    question = "What is the engineering roadmap codeword for next year?"
    alice = open_widget(context, web_stack, "alice")
    ask(alice, question)
    answer = finished(alice)
    assert "PAPERCLIP" not in answer.inner_text()
    titles = [c.get_attribute("aria-label") or "" for c in answer.locator('[data-part="chip"]').all()]
    assert not any("Engineering roadmap" in t for t in titles)
    # The same question from an engineer on the same page finds it: the widget carries each person's identity.
    bob_context = context.browser.new_context()  # type: ignore[union-attr]
    try:
        bob = open_widget(bob_context, web_stack, "bob")
        ask(bob, question)
        bob_answer = finished(bob)
        bob_titles = [c.get_attribute("aria-label") or "" for c in bob_answer.locator('[data-part="chip"]').all()]
        assert any("Engineering roadmap" in t for t in bob_titles), bob_titles
    finally:
        bob_context.close()


def test_a_follow_up_continues_the_conversation(context: BrowserContext, web_stack: WebStack) -> None:
    page = open_widget(context, web_stack)
    ask(page, "What is the extension of the IT helpdesk?")
    finished(page)
    ask(page, "And on which days is it open?")
    expect(page.locator(ANSWER)).to_have_count(2)
    finished(page)
    done = [e["detail"] for e in events(page) if e["type"] == "steward:done"]
    assert len(done) == 2 and done[0]["conversation_id"] == done[1]["conversation_id"]
    page.locator('[data-part="new-conversation"]').click()
    expect(page.locator(ANSWER)).to_have_count(0)


@pytest.mark.parametrize("mode", ["expired", "forged", "long"])
def test_bad_tokens_are_refused_with_a_clear_message(context: BrowserContext, web_stack: WebStack, mode: str) -> None:
    web_stack.host.mode = mode
    try:
        page = open_widget(context, web_stack)
        ask(page, "What time does the parking garage open?")
        answer = finished(page, "error", timeout_ms=30_000)
        expect(answer.locator('[data-part="error"]')).to_contain_text(re.compile("session|sign", re.I))
        assert not [e for e in events(page) if e["type"] == "steward:token"]
    finally:
        web_stack.host.mode = "ok"


def test_a_page_on_an_unregistered_origin_gets_nothing(context: BrowserContext, web_stack: WebStack) -> None:
    # Same host page, other origin (127.0.0.1 is not the registered localhost): CORS and the origin check refuse.
    url = web_stack.host.page_url().replace("localhost", "127.0.0.1")
    context.add_cookies([{"name": "user", "value": "alice", "url": url}])
    page = open_widget(context, web_stack, url=url)
    ask(page, "What time does the parking garage open?")
    answer = finished(page, "error", timeout_ms=30_000)
    assert "6:30" not in answer.inner_text()
    assert not [e for e in events(page) if e["type"] == "steward:token"]


def test_stop_ends_the_answer_and_the_generation(context: BrowserContext, web_stack: WebStack) -> None:
    page = open_widget(context, web_stack)
    ask(page, "Tell me everything about the parking garage, the helpdesk and the bonus scheme, in detail.")
    expect(page.locator('[data-part="stop"]')).to_be_enabled(timeout=120_000)
    page.wait_for_function("() => window.__events.some(e => e.type === 'steward:token')", timeout=120_000)
    page.locator('[data-part="stop"]').click()
    answer = finished(page, "stopped", timeout_ms=10_000)
    shown = answer.locator('[data-part="answer"]').inner_text()
    time.sleep(1.5)
    assert answer.locator('[data-part="answer"]').inner_text() == shown  # nothing more arrives
    # The server cancels vLLM's request when the stream is closed.
    deadline = time.monotonic() + 15
    while vllm_running(web_stack.env) > 0 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert vllm_running(web_stack.env) == 0
    expect(page.locator('[data-part="send"]')).to_be_enabled()


def test_a_spent_site_budget_says_how_long_to_wait_and_offers_a_retry(
    context: BrowserContext, web_stack: WebStack
) -> None:
    site = web_stack.add_site("tiny-budget", requests_per_minute=1)
    page = open_widget(context, web_stack, url=web_stack.host.page_url(site))
    early_in_a_minute()  # both questions in one minute's window
    ask(page, "What is the extension of the IT helpdesk?")
    finished(page)
    ask(page, "What time does the parking garage open?")
    answer = finished(page, "error", timeout_ms=30_000)
    expect(answer.locator('[data-part="error"]')).to_contain_text(re.compile(r"\d+\s*s"))
    expect(answer.locator('[data-part="retry"]')).to_be_visible()
    screenshot(page, "widget-quota-exceeded")


def test_feedback_reaches_the_admins_with_the_answer(context: BrowserContext, web_stack: WebStack) -> None:
    page = open_widget(context, web_stack)
    ask(page, "What is the extension of the IT helpdesk?")
    answer = finished(page)
    answer.locator('[data-part="feedback-down"]').click()
    answer.locator('[data-part="feedback-comment"]').fill("I wanted the opening hours too")
    answer.locator('[data-part="feedback-send"]').click()
    expect(answer).to_contain_text("Thanks")
    message_id = next(e for e in events(page) if e["type"] == "steward:done")["detail"]["message_id"]
    with web_stack.api() as client:
        feedback = client.get("/v1/admin/feedback?rating=down").json()["feedback"]
    mine = next(f for f in feedback if f["message_id"] == message_id)
    assert mine["comment"] == "I wanted the opening hours too"
    assert mine["question"] == "What is the extension of the IT helpdesk?"
    assert mine["citations"] and mine["citations"][0]["title"] == "IT helpdesk"


def _focused_part(page: Page) -> str | None:
    part: str | None = page.evaluate(
        "() => { const r = document.querySelector('steward-chat').shadowRoot;"
        " return r.activeElement ? r.activeElement.dataset.part || r.activeElement.tagName : null; }"
    )
    return part


def test_keyboard_only_at_360_pixels_with_no_serious_accessibility_violations(
    browser_context_mobile: BrowserContext, web_stack: WebStack
) -> None:
    context = browser_context_mobile
    context.add_cookies([{"name": "user", "value": "alice", "url": web_stack.host.origin}])
    page = context.new_page()
    page.goto(web_stack.host.page_url())
    page.evaluate(RECORD_EVENTS)
    for _ in range(10):  # tab from the top of the host page to the launcher
        page.keyboard.press("Tab")
        if _focused_part(page) == "launcher":
            break
    assert _focused_part(page) == "launcher"
    page.keyboard.press("Enter")
    assert _focused_part(page) == "input"
    page.keyboard.type("What is the extension of the IT helpdesk?")
    page.keyboard.press("Enter")
    answer = finished(page)
    assert "4357" in answer.inner_text()
    # The live region reads the finished answer.
    expect(page.locator('[data-part="live"]')).to_contain_text("4357")
    for _ in range(10):
        page.keyboard.press("Tab")
        if _focused_part(page) == "chip":
            break
    assert _focused_part(page) == "chip"
    page.keyboard.press("Enter")
    expect(answer.locator('[data-part="source-panel"]')).to_be_visible()
    width = page.locator('[data-part="panel"]').evaluate("p => p.getBoundingClientRect().width")
    assert width <= 360
    screenshot(page, "widget-360px")
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(page.locator('[data-part="panel"]')).to_be_hidden()
    assert _focused_part(page) == "launcher"
