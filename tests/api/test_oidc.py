"""Single sign-on with a real OpenID provider (panva's oidc-provider on Node, tests/oidc): its access tokens on the
API, key rotation, expired / wrong-audience / forged / foreign tokens, and the console's authorization code flow
with PKCE. Every refusal is the same generic 401; the reason is in the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.api.sso.router import safe_next
from services.core.access.oidc import GENERIC_MESSAGE, OidcConfig, OidcVerifier, Rejected, groups_from
from services.core.db.models import AuditEvent, Principal
from services.core.db.session import session_scope
from services.core.errors import IdentityProviderUnavailable, InvalidToken
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.oidc import (
    API_AUDIENCE,
    OTHER_AUDIENCE,
    SHORT_LIVED_CLIENT,
    OidcProvider,
    oidc_provider,
)
from tests.support.settings import ADMIN_KEY, auth

CALLBACK = "http://testserver/v1/admin/sso/callback"
OIDC_LOG = "services.core.access.oidc"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with oidc_provider(tmp_path_factory.mktemp("oidc"), redirect_uris=[CALLBACK]) as running:
        yield running


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory, provider: OidcProvider) -> TestClient:
    # No leeway, so the provider's 1-second tokens are expired two seconds later; keys refetch at every unknown kid.
    # Many refusals in a minute here: the failed-authentication limit is raised (counting is checked below).
    api = embedded_api(
        **provider.steward_settings(oidc_leeway_s=0, oidc_jwks_refetch_min_s=0), auth_failures_per_minute=10_000
    )
    for name, text, groups in (
        ("canteen.md", "The canteen serves lunch from 11:45 until 14:00.", "everyone"),
        ("salaries.md", "The salary review moonflower budget is decided every October.", "hr"),
        ("roadmap.md", "The engineering roadmap codeword is PAPERCLIP.", "eng"),
    ):
        doc = upload(api, ADMIN_KEY, name, make_markdown(name, [("Facts", text)]), groups=groups)
        wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def search(api: TestClient, token: str, query: str) -> tuple[int, dict[str, Any]]:
    response = api.post("/v1/search", json={"query": query}, headers=auth(token))
    return response.status_code, response.json()


def texts(body: dict[str, Any]) -> str:
    return " ".join(hit["text"] for hit in body["results"])


def principal_named(api: TestClient, name: str) -> Principal | None:
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        principal = session.scalar(select(Principal).where(Principal.name == name))
        if principal is not None:
            session.expunge(principal)
        return principal


def assert_refused(api: TestClient, token: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    """401 with the generic message; the specific reason only in the log."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=OIDC_LOG):
        status, body = search(api, token, "canteen lunch")
    assert status == 401, body
    assert body["error"] == {"code": "invalid_token", "message": GENERIC_MESSAGE}
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == OIDC_LOG)
    assert reason in logged, logged
    assert token not in logged


def resigned(token: str, key: Any, algorithm: str, **changes: Any) -> str:
    """The token's header and claims (with `changes`) signed with another key: a forgery."""
    header = jwt.get_unverified_header(token)
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": header["kid"], "typ": header.get("typ")})


def test_an_access_token_reads_as_its_groups_and_makes_the_principal_on_first_use(
    api: TestClient, provider: OidcProvider
) -> None:
    assert principal_named(api, "oidc:alice") is None
    alice = provider.tokens("alice")["access_token"]
    status, body = search(api, alice, "salary review budget")
    assert status == 200, body
    assert "moonflower" in texts(body)
    status, body = search(api, alice, "engineering roadmap codeword")
    assert status == 200 and "PAPERCLIP" not in texts(body)
    created = principal_named(api, "oidc:alice")
    assert created is not None and created.role == "user"
    # The same person again: the same principal, not a second one.
    assert search(api, provider.tokens("alice")["access_token"], "canteen lunch")[0] == 200
    listed = api.get("/v1/admin/principals?q=oidc:alice", headers=auth(ADMIN_KEY)).json()
    assert [p["id"] for p in listed["principals"]] == [created.id]

    bob = provider.tokens("bob")["access_token"]
    status, body = search(api, bob, "engineering roadmap codeword")
    assert status == 200 and "PAPERCLIP" in texts(body)
    assert "moonflower" not in texts(search(api, bob, "salary review budget")[1])


def test_the_groups_claim_makes_admins_and_people_get_only_search_and_chat(
    api: TestClient, provider: OidcProvider
) -> None:
    carol = provider.tokens("carol")["access_token"]
    assert api.get("/v1/admin/keys", headers=auth(carol)).status_code == 200
    assert principal_named(api, "oidc:carol").role == "admin"  # type: ignore[union-attr]
    status, body = search(api, carol, "engineering roadmap codeword")
    assert status == 200 and "PAPERCLIP" in texts(body)  # admins read everything

    alice = provider.tokens("alice")["access_token"]
    refused = api.get("/v1/admin/keys", headers=auth(alice))
    assert refused.status_code == 403
    upload_refused = upload(api, alice, "mine.md", make_markdown("mine", [("x", "y")]))
    assert upload_refused.status_code == 403


def test_a_rotated_signing_key_is_fetched_once_and_old_tokens_stop_working(
    api: TestClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    verifier: OidcVerifier = api.app.state.runtime.oidc  # type: ignore[attr-defined]
    before = provider.tokens("alice")["access_token"]
    assert search(api, before, "canteen lunch")[0] == 200
    fetches = verifier.jwks_fetches

    new_kids = provider.rotate("rotated")
    after = provider.tokens("alice")["access_token"]
    assert jwt.get_unverified_header(after)["kid"] in new_kids
    assert search(api, after, "salary review budget")[0] == 200
    assert verifier.jwks_fetches == fetches + 1  # the unknown kid made one refetch
    assert search(api, after, "canteen lunch")[0] == 200
    assert verifier.jwks_fetches == fetches + 1  # and the new key is cached

    # The old key is gone from the provider's JWKS: its tokens fail, even though they have not expired.
    assert_refused(api, before, "no key with this kid", caplog)


def test_an_expired_token_from_the_provider_is_refused(
    api: TestClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    short = provider.tokens("alice", client_id=SHORT_LIVED_CLIENT)["access_token"]
    claims = jwt.decode(short, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(max(0.0, claims["exp"] + 1.2 - time.time()))
    assert_refused(api, short, "expired", caplog)


def test_a_token_for_another_audience_is_refused(
    api: TestClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    other = provider.tokens("alice", resource=OTHER_AUDIENCE)["access_token"]
    assert jwt.decode(other, options={"verify_signature": False})["aud"] == OTHER_AUDIENCE
    assert_refused(api, other, "wrong audience", caplog)
    # The ID token is for the client (aud = client id), not for the API.
    id_token = provider.tokens("alice")["id_token"]
    assert_refused(api, id_token, "wrong audience", caplog)


def test_forged_tokens_are_refused(api: TestClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture) -> None:
    genuine = provider.tokens("bob")["access_token"]
    own_ec = ec.generate_private_key(ec.SECP256R1())
    # The provider's kid, the right claims, promoted to admin, signed with a key of our own.
    forged = resigned(genuine, own_ec, "ES256", groups=["everyone", "steward-admins"])
    assert_refused(api, forged, "bad signature", caplog)
    assert_refused(api, resigned(genuine, own_ec, "ES256"), "bad signature", caplog)
    # A key id the provider never had: one refetch at most, then refused.
    unknown_kid = jwt.encode(
        jwt.decode(genuine, options={"verify_signature": False}), own_ec, algorithm="ES256", headers={"kid": "evil"}
    )
    assert_refused(api, unknown_kid, "no key with this kid", caplog)
    # Algorithms outside the allowlist, whatever the claims say.
    claims = jwt.decode(genuine, options={"verify_signature": False})
    none = jwt.encode(claims, None, algorithm="none", headers={"kid": jwt.get_unverified_header(genuine)["kid"]})
    assert_refused(api, none, "algorithm 'none' is not allowed", caplog)
    hs256 = jwt.encode(claims, "a-guessed-shared-secret-of-32-bytes!", algorithm="HS256")
    assert_refused(api, hs256, "algorithm 'HS256' is not allowed", caplog)
    # A genuine token with one character of its signature changed.
    head, body, signature = genuine.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert_refused(api, tampered, "signature", caplog)


def test_a_token_from_an_unknown_issuer_is_refused_with_the_reason_only_in_the_log(
    api: TestClient, provider: OidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": "https://login.evil.example.com", "sub": "mallory", "aud": API_AUDIENCE, "iat": now}
    foreign = jwt.encode({**claims, "exp": now + 300, "groups": ["hr"]}, key, algorithm="RS256", headers={"kid": "k"})
    assert_refused(api, foreign, "unknown issuer", caplog)
    assert "login.evil.example.com" in caplog.text
    body = search(api, foreign, "canteen lunch")[1]
    assert "issuer" not in str(body) and "evil" not in str(body)
    assert_refused(api, "not.a.jwt", "malformed", caplog)
    # Widget site tokens still go their own way beside single sign-on.
    site = api.post(
        "/v1/admin/sites",
        json={"name": "beside-sso", "origins": ["https://intranet.example.com"], "groups": ["everyone"]},
        headers=auth(ADMIN_KEY),
    ).json()
    now = int(time.time())
    site_token = jwt.encode(
        {"sub": "dave", "aud": site["id"], "iat": now, "exp": now + 300, "groups": ["everyone"]},
        site["secret"],
        algorithm="HS256",
    )
    response = api.post(
        "/v1/search",
        json={"query": "canteen lunch"},
        headers={**auth(site_token), "Origin": "https://intranet.example.com"},
    )
    assert response.status_code == 200, response.text


def test_refused_tokens_count_as_failed_authentications(
    api: TestClient, provider: OidcProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed: list[str] = []
    throttle = api.app.state.runtime.auth_throttle  # type: ignore[attr-defined]
    monkeypatch.setattr(throttle, "failed", failed.append)
    genuine = provider.tokens("alice")["access_token"]
    assert search(api, genuine, "canteen lunch")[0] == 200
    assert failed == []
    forged = resigned(genuine, ec.generate_private_key(ec.SECP256R1()), "ES256")
    assert search(api, forged, "canteen lunch")[0] == 401
    assert failed == ["testclient"]


class ProviderLink(httpx.BaseTransport):
    """The verifier's way to the provider, which a test can cut; it records every path asked for."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.down = False
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("the provider is down", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_for(issuer: str, link: ProviderLink, clock: Clock | None = None) -> OidcVerifier:
    config = OidcConfig(
        issuer=issuer,
        client_id="steward",
        client_secret=None,
        audience=API_AUDIENCE,
        groups_claim="groups",
        admin_groups=frozenset(),
        scopes="openid",
        redirect_uri=None,
        jwks_cache_s=3600,
        jwks_refetch_min_s=60,
        leeway_s=0,
        timeout_s=5,
    )
    return OidcVerifier(config=config, http=httpx.Client(transport=link), clock=clock or Clock())


def test_refetches_for_unknown_kids_are_rate_limited(provider: OidcProvider) -> None:
    link = ProviderLink()
    verifier = verifier_for(provider.issuer, link)
    genuine = provider.tokens("alice")["access_token"]
    assert verifier.verify_access_token(genuine).groups == ("everyone", "hr")
    assert verifier.jwks_fetches == 1
    claims = jwt.decode(genuine, options={"verify_signature": False})
    own = ec.generate_private_key(ec.SECP256R1())
    for n in range(20):
        forged = jwt.encode(claims, own, algorithm="ES256", headers={"kid": f"made-up-{n}"})
        with pytest.raises(InvalidToken):
            verifier.verify_access_token(forged)
    assert verifier.jwks_fetches == 2  # one refetch for twenty made-up kids
    assert link.paths.count("/.well-known/openid-configuration") == 1
    verifier.close()


def test_cached_keys_outlive_a_provider_outage_and_it_is_asked_again_only_after_a_while(
    provider: OidcProvider,
) -> None:
    link, clock = ProviderLink(), Clock()
    verifier = verifier_for(provider.issuer, link, clock)
    genuine = provider.tokens("bob")["access_token"]
    assert verifier.verify_access_token(genuine).subject == "bob"
    asked = len(link.paths)
    link.down = True
    clock.now += 4000  # past the cache's hour: a refresh is due, and fails
    assert verifier.verify_access_token(genuine).subject == "bob"  # the keys it had still verify
    assert link.paths[asked:] == ["/.well-known/openid-configuration", "/jwks"]
    clock.now += 30
    assert verifier.verify_access_token(genuine).subject == "bob"
    assert len(link.paths) == asked + 2  # not asked again within the minimum interval
    link.down = False
    clock.now += 31
    fetches = verifier.jwks_fetches
    assert verifier.verify_access_token(genuine).subject == "bob"
    assert verifier.jwks_fetches == fetches + 1  # asked again, and it answered
    verifier.close()


def test_an_unreachable_provider_is_unavailable_not_an_invalid_token_and_is_not_hammered(
    provider: OidcProvider,
) -> None:
    link = ProviderLink()
    link.down = True
    verifier = verifier_for(provider.issuer, link)
    genuine = provider.tokens("alice")["access_token"]
    with pytest.raises(IdentityProviderUnavailable):
        verifier.verify_access_token(genuine)
    asked = len(link.paths)
    with pytest.raises(IdentityProviderUnavailable):
        verifier.verify_access_token(genuine)
    assert len(link.paths) == asked  # refused at once until the minimum interval has passed
    verifier.close()


# -- the console: authorization code with PKCE -----------------------------------------------------------------


def start_login(api: TestClient, next_path: str = "/admin/") -> httpx.Response:
    response = api.get("/v1/admin/sso/login", params={"next": next_path}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response


def console_sign_in(api: TestClient, provider: OidcProvider, username: str, next_path: str = "/admin/") -> str:
    """Sign in to the console as `username` through the provider's login page; the redirect Steward answers with."""
    login = start_login(api, next_path)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        back = provider.sign_in(browser, login.headers["location"], username, stop_at=CALLBACK)
    landing = api.get(back.removeprefix("http://testserver"), follow_redirects=False)
    assert landing.status_code == 302, landing.text
    return landing.headers["location"]


def test_sso_status_is_public(api: TestClient, provider: OidcProvider) -> None:
    assert api.get("/v1/admin/sso").json() == {"enabled": True, "provider": provider.issuer}


def test_the_login_redirect_carries_pkce_state_and_nonce_in_a_signed_lax_cookie(
    api: TestClient, provider: OidcProvider
) -> None:
    response = start_login(api)
    target = urlparse(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == provider.issuer
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "steward"
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert set(query["scope"].split()) >= {"openid", "groups"}
    cookie = response.headers["set-cookie"].lower()
    assert "steward_sso=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/v1/admin/sso" in cookie
    api.cookies.clear()


def test_an_admin_signs_in_to_the_console_through_the_provider(api: TestClient, provider: OidcProvider) -> None:
    landing = console_sign_in(api, provider, "carol", next_path="/admin/#/access/keys")
    assert landing == "/admin/#/access/keys"
    session = api.get("/v1/admin/session")
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["principal"]["name"] == "oidc:carol" and body["principal"]["role"] == "admin"
    # A console session like any other: reads freely, changes with the CSRF token.
    new_site = {"name": "via-sso", "origins": ["https://sso.example.com"]}
    assert api.post("/v1/admin/sites", json=new_site).status_code == 403
    created = api.post("/v1/admin/sites", json=new_site, headers={"X-CSRF-Token": body["csrf_token"]})
    assert created.status_code == 201
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as db:
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "console.sign_in", AuditEvent.principal_id == body["principal"]["id"]
            )
        ).all()
        assert events and events[-1].details["method"] == "sso"
    assert api.delete("/v1/admin/session").status_code == 204
    api.cookies.clear()


def test_the_console_session_ends_when_the_person_is_no_longer_an_admin(
    api: TestClient, provider: OidcProvider
) -> None:
    console_sign_in(api, provider, "carol")
    assert api.get("/v1/admin/session").status_code == 200
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as db:
        db.scalars(select(Principal).where(Principal.name == "oidc:carol")).one().role = "user"
    assert api.get("/v1/admin/session").status_code == 401
    with session_scope(runtime.sessions) as db:
        db.scalars(select(Principal).where(Principal.name == "oidc:carol")).one().role = "admin"
    api.cookies.clear()


def test_people_who_are_not_admins_are_sent_back_to_the_sign_in_page(api: TestClient, provider: OidcProvider) -> None:
    assert console_sign_in(api, provider, "alice") == "/admin/#/signin?error=not_admin"
    assert "steward_session" not in api.cookies
    assert api.get("/v1/admin/session").status_code == 401
    api.cookies.clear()


def test_a_cancelled_sign_in_shows_the_providers_answer(api: TestClient, provider: OidcProvider) -> None:
    login = start_login(api)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        back = provider.cancel_sign_in(browser, login.headers["location"], stop_at=CALLBACK)
    assert "error=access_denied" in back
    landing = api.get(back.removeprefix("http://testserver"), follow_redirects=False)
    assert landing.headers["location"] == "/admin/#/signin?error=access_denied"
    api.cookies.clear()


def test_a_callback_without_its_signed_state_or_with_a_replayed_code_is_refused(
    api: TestClient, provider: OidcProvider
) -> None:
    login = start_login(api)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        back = provider.sign_in(browser, login.headers["location"], "carol", stop_at=CALLBACK)
    path = back.removeprefix("http://testserver")
    sealed = api.cookies.get("steward_sso")
    assert sealed
    # Another browser (no cookie), a forged cookie, a state that is not the cookie's: all refused.
    api.cookies.clear()
    assert api.get(path, follow_redirects=False).headers["location"] == "/admin/#/signin?error=expired"
    payload, mac = sealed.split(".")
    api.cookies.set("steward_sso", f"{payload}.{'A' * len(mac)}", path="/v1/admin/sso")
    assert api.get(path, follow_redirects=False).headers["location"] == "/admin/#/signin?error=expired"
    api.cookies.set("steward_sso", sealed, path="/v1/admin/sso")
    wrong_state = path.replace("state=", "state=x")
    assert api.get(wrong_state, follow_redirects=False).headers["location"] == "/admin/#/signin?error=expired"
    # The genuine callback works once; the same code again does not.
    api.cookies.set("steward_sso", sealed, path="/v1/admin/sso")
    assert api.get(path, follow_redirects=False).headers["location"] == "/admin/"
    api.cookies.set("steward_sso", sealed, path="/v1/admin/sso")
    assert api.get(path, follow_redirects=False).headers["location"] == "/admin/#/signin?error=failed"
    api.cookies.clear()


def test_the_landing_page_is_always_one_of_the_console(api: TestClient, provider: OidcProvider) -> None:
    assert console_sign_in(api, provider, "carol", next_path="https://evil.example.com/") == "/admin/"
    api.cookies.clear()
    for evil in ("//evil.example.com/admin/", "/admin//evil.example.com", "/admin/\\evil", "/v1/admin/keys"):
        assert safe_next(evil) == "/admin/", evil
    assert safe_next("/admin/#/usage") == "/admin/#/usage"


def test_groups_come_from_a_list_a_string_or_a_nested_claim(provider: OidcProvider) -> None:
    verifier = verifier_for(provider.issuer, ProviderLink())
    assert groups_from(["hr", " eng ", "hr", ""]) == ("eng", "hr")
    assert groups_from("hr, eng  finance") == ("eng", "finance", "hr")
    assert groups_from(None) == ()
    for bad in ([1, 2], {"hr": True}, ["x" * 101], [f"g{n}" for n in range(201)]):
        with pytest.raises(Rejected):
            groups_from(bad)
    nested = replace(verifier.config, groups_claim="realm_access.roles", admin_groups=frozenset({"boss"}))
    keycloak_like = OidcVerifier(config=nested, http=httpx.Client())
    person = keycloak_like.identity({"sub": "k1", "email": "k@example.com", "realm_access": {"roles": ["boss", "hr"]}})
    assert (person.groups, person.role, person.name) == (("boss", "hr"), "admin", "k@example.com")
    with pytest.raises(Rejected):
        keycloak_like.identity({"sub": "x" * 191})
    keycloak_like.close()
    verifier.close()
