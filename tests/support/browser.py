"""A real browser for the web tests: Debian's chromium driven by Playwright, axe-core, screenshots, a host site.

Playwright's own browser download is blocked on these machines, so it is pointed at /usr/bin/chromium. The host
site is another origin that embeds the widget the way an intranet would, with its own token endpoint."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("STEWARD_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps dialling Google on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("STEWARD_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot as a test artifact (test-artifacts/screenshots/NAME.png) and return its path."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of these impacts on the page as it is now (shadow roots included)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluated through the debugger protocol: the page's CSP does not apply
    result: dict[str, Any] = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


@dataclass
class HostSite:
    """An intranet page on its own origin that embeds the widget, and its backend's token endpoint.

    The signed-in user is the `user` cookie; `users` maps each to their groups. `mode` makes the endpoint
    misbehave as a broken or hostile backend would: "expired", "forged", "long" (a day-long token) or "down"."""

    steward_url: str
    mint: Callable[[str, str, list[str], str], str]  # (site id, sub, groups, mode) -> token
    site_id: str
    users: dict[str, list[str]]
    mode: str = "ok"
    port: int = field(default_factory=free_port)
    token_requests: int = 0

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def page_url(self, site: str | None = None, extra: str = "") -> str:
        return f"{self.origin}/?site={site or self.site_id}{extra}"

    def html(self, site_id: str) -> str:
        # Hostile host styles: the widget's shadow DOM must keep its own look.
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Intranet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  * {{ font-family: "Comic Sans MS", cursive !important; letter-spacing: 3px; }}
  button {{ background: hotpink !important; border: 5px dashed lime !important; }}
  div {{ display: block; }}
</style></head>
<body><header><h1>Company intranet</h1></header><main><p>Welcome back. Ask Steward anything about our policies.</p>
</main>
<script src="{self.steward_url}/widget/steward.js" data-site="{site_id}" data-token-url="/token?site={site_id}"
 defer></script>
</body></html>"""

    def serve(self) -> ThreadingHTTPServer:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/":
                    site = parse_qs(url.query).get("site", [host.site_id])[0]
                    self._send(200, host.html(site), "text/html; charset=utf-8")
                elif url.path == "/token":
                    host.token_requests += 1
                    site = parse_qs(url.query).get("site", [host.site_id])[0]
                    cookies = dict(
                        part.strip().split("=", 1) for part in self.headers.get("Cookie", "").split(";") if "=" in part
                    )
                    user = cookies.get("user")
                    if user not in host.users:
                        self._send(401, json.dumps({"error": "not signed in"}), "application/json")
                    elif host.mode == "down":
                        self._send(500, "oops", "text/plain")
                    else:
                        token = host.mint(site, user, host.users[user], host.mode)
                        self._send(200, json.dumps({"token": token, "expires_in": 600}), "application/json")
                else:
                    self._send(404, "not found", "text/plain")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
