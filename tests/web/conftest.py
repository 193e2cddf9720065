"""Fixtures for the browser tests: one chromium per session, `steward serve` on the embedded profile with the
real vLLM, a registered widget site, and a host intranet on another origin minting its users' tokens."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, HostSite
from tests.support.processes import ChildProcess
from tests.support.settings import ADMIN_KEY, auth
from tests.support.stack import steward_serve
from tests.support.tokens import mint

# (file name, title, section text, groups)
DOCUMENTS = [
    (
        "parking.md",
        "Parking guide",
        "The Steward parking garage opens at 6:30 every weekday. Visitors park on level minus two.",
        "everyone",
    ),
    (
        "helpdesk.md",
        "IT helpdesk",
        "The IT helpdesk is reachable on extension 4357, Monday to Friday from 8:00 to 18:00.",
        "everyone",
    ),
    ("bonus.md", "Bonus scheme", "The annual bonus pool is paid out every March to the HR team.", "hr"),
    ("roadmap.md", "Engineering roadmap", "The engineering roadmap codeword for next year is PAPERCLIP.", "eng"),
]
USERS = {"alice": ["everyone", "hr"], "bob": ["everyone", "eng"]}


@dataclass
class WebStack:
    url: str
    env: dict[str, str]
    server: ChildProcess
    document_ids: dict[str, str]
    site_id: str
    site_secret: str
    host: HostSite
    secrets: dict[str, str]  # site id -> signing secret, for the host's token endpoint

    def add_site(self, name: str, **fields: object) -> str:
        """Register another site on the host's origin (its secret goes to the host's backend); returns its id."""
        body = {"name": name, "origins": [self.host.origin], "groups": ["everyone", "hr", "eng"], **fields}
        with self.api() as client:
            site = client.post("/v1/admin/sites", json=body).json()
        self.secrets[site["id"]] = site["secret"]
        return str(site["id"])

    def api(self, key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=auth(key), timeout=120)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture(scope="package")
def web_stack(tmp_path_factory: pytest.TempPathFactory, vllm_base_url: str) -> Iterator[WebStack]:
    with steward_serve(tmp_path_factory.mktemp("web"), vllm_base_url, DOCUMENTS) as served:
        host = HostSite(steward_url=served.url, mint=lambda *_: "", site_id="", users=USERS)
        with served.api() as client:
            site = client.post(
                "/v1/admin/sites",
                json={"name": "intranet", "origins": [host.origin], "groups": ["everyone", "hr", "eng"]},
            ).json()
        site_id, secret = site["id"], site["secret"]
        secrets: dict[str, str] = {site_id: secret}

        def mint_for(site: str, sub: str, groups: list[str], mode: str) -> str:
            secret = secrets[site]
            if mode == "expired":
                return mint(site, secret, sub, groups, issued_at=time.time() - 3600, ttl_s=600)
            if mode == "forged":
                return mint(site, "a-guess-at-the-secret-" * 2, sub, groups)
            if mode == "long":
                return mint(site, secret, sub, groups, ttl_s=86_400)
            return mint(site, secret, sub, groups)

        host.mint, host.site_id = mint_for, site_id
        host_server = host.serve()
        try:
            yield WebStack(served.url, served.env, served.server, served.document_ids, site_id, secret, host, secrets)
        finally:
            host_server.shutdown()


@pytest.fixture
def browser_context_mobile(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized window: 360 px wide."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    yield context
    context.close()
