"""Single sign-on to the admin console in a real browser: the sign-in page offers it, the real OpenID provider's
login page signs the person in, and the console opens on the documents screen; people who are not admins and
cancelled sign-ins come back to the sign-in page with a message. The sign-in pages are checked with axe-core.

`steward serve` runs here without a model (the console needs none), so this module does not need vLLM."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import axe_violations, screenshot
from tests.support.oidc import USERS, OidcProvider, oidc_provider
from tests.support.processes import ChildProcess, free_port
from tests.support.settings import ADMIN_KEY

pytestmark = pytest.mark.slow  # a browser and two servers of its own

STEWARD = str(Path(sys.executable).parent / "steward")


@dataclass
class SsoStack:
    url: str
    provider: OidcProvider
    server: ChildProcess


@pytest.fixture(scope="module")
def sso_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoStack]:
    workdir = tmp_path_factory.mktemp("sso")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with oidc_provider(workdir / "oidc", redirect_uris=[f"{url}/v1/admin/sso/callback"]) as provider:
        settings = provider.steward_settings()
        env = {
            **os.environ,
            "STEWARD_DATA_DIR": str(workdir / "data"),
            "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
            "STEWARD_PORT": str(port),
            # No model: the console does not need one.
            "STEWARD_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "STEWARD_LLM_MANAGE_SERVER": "false",
            "STEWARD_OIDC_ISSUER": settings["oidc_issuer"],
            "STEWARD_OIDC_CLIENT_ID": settings["oidc_client_id"],
            "STEWARD_OIDC_CLIENT_SECRET": settings["oidc_client_secret"],
            "STEWARD_OIDC_AUDIENCE": settings["oidc_audience"],
            "STEWARD_OIDC_ADMIN_GROUPS": ",".join(settings["oidc_admin_groups"]),
            "STEWARD_OIDC_SCOPES": settings["oidc_scopes"],
        }
        server = ChildProcess([STEWARD, "serve"], env, workdir / "serve.log")
        try:
            server.wait_http(f"{url}/healthz", timeout_s=180)
            yield SsoStack(url, provider, server)
        finally:
            server.stop()


def open_sign_in(context: BrowserContext, stack: SsoStack) -> Page:
    page = context.new_page()
    page.goto(f"{stack.url}/admin/")
    expect(page.get_by_test_id("signin-sso")).to_be_visible()
    return page


def provider_login(page: Page, username: str) -> None:
    expect(page.locator("#username")).to_be_visible()
    page.locator("#username").fill(username)
    page.locator("#password").fill(USERS[username].password)
    page.locator("#login").click()


def test_an_admin_signs_in_with_the_provider_and_lands_on_the_documents_screen(
    context: BrowserContext, sso_stack: SsoStack
) -> None:
    page = open_sign_in(context, sso_stack)
    expect(page.get_by_test_id("signin-key")).to_be_visible()  # the key form stays, for the bootstrap admin
    screenshot(page, "admin-sign-in-sso")
    assert axe_violations(page) == []
    page.get_by_test_id("signin-sso").click()
    page.wait_for_url(re.compile(re.escape(sso_stack.provider.issuer) + "/interaction/"))
    provider_login(page, "carol")
    page.wait_for_url(re.compile(re.escape(sso_stack.url) + "/admin/"))
    expect(page.locator("main[data-screen=documents]")).to_be_visible()
    expect(page.get_by_test_id("principal-name")).to_have_text("oidc:carol")
    screenshot(page, "admin-after-sso")
    stored = page.evaluate("() => document.cookie + JSON.stringify({...localStorage})")
    assert "steward_session" not in stored and "steward_sso" not in stored  # both HttpOnly
    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin-sso")).to_be_visible()


def test_a_person_who_is_not_an_admin_is_refused_with_a_message(context: BrowserContext, sso_stack: SsoStack) -> None:
    page = open_sign_in(context, sso_stack)
    page.get_by_test_id("signin-sso").click()
    provider_login(page, "alice")
    expect(page.get_by_test_id("signin-sso-error")).to_contain_text("not in an admin group")
    expect(page.get_by_test_id("signin-sso")).to_be_visible()
    screenshot(page, "admin-sso-not-admin")
    assert axe_violations(page) == []


def test_a_cancelled_sign_in_comes_back_with_a_message(context: BrowserContext, sso_stack: SsoStack) -> None:
    page = open_sign_in(context, sso_stack)
    page.get_by_test_id("signin-sso").click()
    expect(page.locator("#abort")).to_be_visible()
    page.locator("#abort").click()
    expect(page.get_by_test_id("signin-sso-error")).to_contain_text("cancelled")
