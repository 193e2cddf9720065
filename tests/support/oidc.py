"""A real OpenID provider for the SSO tests: panva's certified `oidc-provider` (npm, locked in tests/oidc) run by
the machine's Node on a free port, with test users, Steward's clients, JWT access tokens for the API and signing
keys the tests choose and can rotate at runtime.

`oidc_provider()` installs the package once if tests/oidc/node_modules is missing (`npm ci`), starts
tests/oidc/provider.mjs, waits for the discovery document and stops it afterwards. `OidcProvider.sign_in` goes
through the provider's own login page over HTTP the way a browser would, so tests get real codes and tokens."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.processes import ChildProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc"

CLIENT_ID = "steward"
CLIENT_SECRET = "steward-test-client-secret-6a1f0c9e"
# Its access tokens live 1 s: expired tokens, issued by the provider itself.
SHORT_LIVED_CLIENT = "steward-short-lived"
API_AUDIENCE = "api://steward"
OTHER_AUDIENCE = "api://another-service"
ADMIN_GROUP = "steward-admins"
SCOPES = "openid profile email groups"
# Never followed: the helper stops at it and reads the code (a registered redirect URI of every client).
TOKEN_REDIRECT = "http://127.0.0.1:9/tokens"


@dataclass(frozen=True)
class User:
    password: str
    name: str
    email: str
    groups: list[str]


USERS = {
    "alice": User("alice-password", "Alice Archer", "alice@example.com", ["everyone", "hr"]),
    "bob": User("bob-password", "Bob Baker", "bob@example.com", ["everyone", "eng"]),
    "carol": User("carol-password", "Carol Chief", "carol@example.com", ["everyone", ADMIN_GROUP]),
}


def signing_keys(tag: str) -> dict[str, Any]:
    """A private JWKS for the provider: an RSA key (ID tokens, RS256) and a P-256 key (API tokens, ES256)."""
    rsa_jwk = RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    return {
        "keys": [
            {**rsa_jwk, "kid": f"{tag}-rsa", "use": "sig", "alg": "RS256"},
            {**ec_jwk, "kid": f"{tag}-ec", "use": "sig", "alg": "ES256"},
        ]
    }


def ensure_installed() -> None:
    """`npm ci` in tests/oidc once, when its node_modules is missing (`make oidc-provider` does the same)."""
    marker = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the SSO tests run a real OpenID provider on Node")
    with (PROVIDER_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes at once install it once
        if not marker.exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PROVIDER_DIR, check=True, timeout=300
            )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class OidcProvider:
    issuer: str
    process: ChildProcess
    admin_token: str
    jwks: dict[str, Any]
    log_path: Path
    calls: list[str] = field(default_factory=list)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def steward_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings overrides that point Steward at this provider (`embedded_api(**provider.steward_settings())`)."""
        return {
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_audience": API_AUDIENCE,
            "oidc_admin_groups": [ADMIN_GROUP],
            "oidc_scopes": SCOPES,
            **overrides,
        }

    @property
    def kids(self) -> list[str]:
        return [str(k["kid"]) for k in self.jwks["keys"]]

    def rotate(self, tag: str) -> list[str]:
        """Replace the provider's signing keys with new ones (new kids); the old ones are gone from its JWKS."""
        jwks = signing_keys(tag)
        response = httpx.post(
            f"{self.issuer}/test/jwks", json=jwks, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10
        )
        response.raise_for_status()
        self.jwks = jwks
        return self.kids

    def public_jwks(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.issuer}/jwks", timeout=10).json())

    def sign_in(self, http: httpx.Client, url: str, username: str, *, stop_at: str, password: str | None = None) -> str:
        """Follow `url` (an authorization request) through the provider's login page as `username`; returns the
        URL the provider finally redirects to under `stop_at` (the client's redirect URI), without following it."""
        response = http.get(url)
        while True:
            while response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(stop_at):
                    return location
                response = http.get(location)
            action = re.search(r'action="(/interaction/[^"]+/login)"', response.text)
            if response.status_code != 200 or action is None:
                raise AssertionError(f"no login page from the provider ({response.status_code}): {response.text[:500]}")
            user = USERS.get(username)
            secret = password if password is not None else (user.password if user else "")
            form = {"username": username, "password": secret}
            response = http.post(urljoin(self.issuer, action.group(1)), data=form)
            if response.status_code == 401:
                raise AssertionError(f"the provider refused {username}'s password")

    def cancel_sign_in(self, http: httpx.Client, url: str, *, stop_at: str) -> str:
        """Open the login page, then press Cancel: the provider answers the client with access_denied."""
        response = http.get(url)
        while response.is_redirect:
            response = http.get(urljoin(str(response.url), response.headers["location"]))
        action = re.search(r'action="(/interaction/[^"]+/abort)"', response.text)
        assert action is not None, response.text[:500]
        response = http.post(urljoin(self.issuer, action.group(1)))
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(stop_at):
                return location
            response = http.get(location)
        raise AssertionError(f"the provider did not return to the client: {response.status_code}")

    def tokens(
        self,
        username: str,
        *,
        client_id: str = CLIENT_ID,
        resource: str | None = API_AUDIENCE,
        scope: str = SCOPES,
    ) -> dict[str, Any]:
        """Tokens for `username` from the authorization code flow with PKCE, as an app of the company would get
        them: `access_token` is a JWT for `resource` (the provider's key, its audience), `id_token` for the client."""
        verifier, challenge = pkce_pair()
        params = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": TOKEN_REDIRECT,
            "scope": scope,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **({"resource": resource} if resource else {}),
        }
        with httpx.Client(follow_redirects=False, timeout=30) as http:
            back = self.sign_in(http, f"{self.issuer}/auth?{urlencode(params)}", username, stop_at=TOKEN_REDIRECT)
            query = parse_qs(urlparse(back).query)
            if "code" not in query:
                raise AssertionError(f"no code in {back}")
            form = {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": TOKEN_REDIRECT,
                "code_verifier": verifier,
                **({"resource": resource} if resource else {}),
            }
            response = http.post(f"{self.issuer}/token", data=form, auth=(client_id, CLIENT_SECRET))
            response.raise_for_status()
            return dict(response.json())


def _config(issuer: str, port: int, redirect_uris: list[str], admin_token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    client = {
        "client_secret": CLIENT_SECRET,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    return {
        "issuer": issuer,
        "port": port,
        "adminToken": admin_token,
        "cookieKeys": [secrets.token_urlsafe(32)],
        "jwks": jwks,
        "users": {name: vars(user) for name, user in USERS.items()},
        "clients": [
            {**client, "client_id": CLIENT_ID, "redirect_uris": [*redirect_uris, TOKEN_REDIRECT]},
            {**client, "client_id": SHORT_LIVED_CLIENT, "redirect_uris": [TOKEN_REDIRECT]},
        ],
        "shortLivedClients": [SHORT_LIVED_CLIENT],
        "resources": {API_AUDIENCE: {"alg": "ES256"}, OTHER_AUDIENCE: {"alg": "ES256"}},
    }


@contextmanager
def oidc_provider(workdir: Path, *, redirect_uris: list[str]) -> Iterator[OidcProvider]:
    """The provider running with `redirect_uris` registered for Steward's client; stopped on exit."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: the SSO tests run a real OpenID provider on Node")
    ensure_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_urlsafe(24)
    jwks = signing_keys("first")
    config_path = workdir / "provider.json"
    config_path.write_text(json.dumps(_config(issuer, port, redirect_uris, admin_token, jwks)))
    config_path.chmod(0o600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "NODE_ENV": "test"}
    log_path = workdir / "provider.log"
    process = ChildProcess([node, "provider.mjs", str(config_path)], env, log_path, cwd=PROVIDER_DIR)
    try:
        process.wait_http(f"{issuer}/.well-known/openid-configuration", timeout_s=60)
        yield OidcProvider(issuer, process, admin_token, jwks, log_path)
    finally:
        process.stop()
