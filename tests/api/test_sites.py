"""Widget sites: admins register origins and a signing key; a signed user token is a person, capped by the site."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth
from tests.support.tokens import early_in_a_minute, mint

ORIGIN = "https://intranet.example.com"


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api()
    for name, text, groups in (
        ("canteen.md", "The canteen serves lunch from 11:45 until 14:00.", "everyone"),
        ("salaries.md", "The salary review moonflower budget is decided every October.", "hr"),
        ("roadmap.md", "The engineering roadmap codeword is PAPERCLIP.", "eng"),
    ):
        doc = upload(api, ADMIN_KEY, name, make_markdown(name, [("Facts", text)]), groups=groups)
        wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def create_site(api: TestClient, name: str, **fields: object) -> dict[str, object]:
    body = {"name": name, "origins": [ORIGIN], "groups": ["everyone", "hr"], **fields}
    response = api.post("/v1/admin/sites", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 201, response.text
    site: dict[str, object] = response.json()
    return site


def search(api: TestClient, token: str, query: str, origin: str | None = ORIGIN) -> tuple[int, dict[str, object]]:
    headers = {**auth(token), **({"Origin": origin} if origin else {})}
    response = api.post("/v1/search", json={"query": query}, headers=headers)
    return response.status_code, response.json()


def texts(body: dict[str, object]) -> str:
    return " ".join(hit["text"] for hit in body["results"])  # type: ignore[index, union-attr]


def test_a_site_secret_is_shown_once_and_never_listed(api: TestClient) -> None:
    site = create_site(api, "secret-once")
    assert isinstance(site["secret"], str) and len(site["secret"]) >= 40
    listed = api.get("/v1/admin/sites", headers=auth(ADMIN_KEY)).json()
    assert any(s["id"] == site["id"] for s in listed["sites"])
    assert site["secret"] not in str(listed)


def test_a_signed_user_reads_as_their_groups_capped_by_the_site(api: TestClient) -> None:
    site = create_site(api, "capped")
    # The token claims eng too; the site may grant at most everyone and hr.
    token = mint(str(site["id"]), str(site["secret"]), "alice", ["everyone", "hr", "eng"])
    status, body = search(api, token, "salary review budget")
    assert status == 200, body
    assert "moonflower" in texts(body)
    status, body = search(api, token, "engineering roadmap codeword")
    assert status == 200
    assert "PAPERCLIP" not in texts(body)


def test_wrong_origin_expired_forged_and_foreign_tokens_are_refused(api: TestClient) -> None:
    site = create_site(api, "strict")
    site_id, secret = str(site["id"]), str(site["secret"])
    good = mint(site_id, secret, "bob", ["everyone"])
    assert search(api, good, "canteen lunch")[0] == 200

    status, body = search(api, good, "canteen lunch", origin="https://evil.example.net")
    assert (status, body["error"]["code"]) == (403, "origin_not_allowed")  # type: ignore[index]
    status, body = search(api, good, "canteen lunch", origin=None)
    assert (status, body["error"]["code"]) == (403, "origin_not_allowed")  # type: ignore[index]

    expired = mint(site_id, secret, "bob", ["everyone"], issued_at=time.time() - 1200, ttl_s=600)
    forged = mint(site_id, "not-the-secret-" * 3, "bob", ["everyone"])
    too_long = mint(site_id, secret, "bob", ["everyone"], ttl_s=24 * 3600)
    other_site = create_site(api, "other")
    foreign = mint(str(other_site["id"]), secret, "bob", ["everyone"])
    unsigned = jwt.encode(
        {"sub": "bob", "aud": site_id, "iat": int(time.time()), "exp": int(time.time()) + 60}, None, algorithm="none"
    )
    for token, why in (
        (expired, "expired"),
        (forged, "signature"),
        (too_long, "at most 15 minutes"),
        (foreign, "signature"),
        (unsigned, "invalid user token"),
        ("a.b.c", "malformed"),
    ):
        status, body = search(api, token, "canteen lunch")
        assert status == 401, (why, body)
        assert body["error"]["code"] == "invalid_token"  # type: ignore[index]
        assert why in body["error"]["message"]  # type: ignore[index]


def test_rotation_and_deletion_take_effect_at_once(api: TestClient) -> None:
    site = create_site(api, "rotating")
    site_id = str(site["id"])
    old = mint(site_id, str(site["secret"]), "carol", ["everyone"])
    assert search(api, old, "canteen")[0] == 200
    rotated = api.post(f"/v1/admin/sites/{site_id}/rotate", headers=auth(ADMIN_KEY)).json()
    assert rotated["secret"] != site["secret"]
    assert search(api, old, "canteen")[0] == 401
    new = mint(site_id, rotated["secret"], "carol", ["everyone"])
    assert search(api, new, "canteen")[0] == 200
    # Narrowing the site's groups narrows its users on their next request.
    api.patch(f"/v1/admin/sites/{site_id}", json={"groups": []}, headers=auth(ADMIN_KEY)).raise_for_status()
    status, body = search(api, new, "canteen lunch")
    assert status == 200 and "11:45" not in texts(body)
    assert api.delete(f"/v1/admin/sites/{site_id}", headers=auth(ADMIN_KEY)).status_code == 204
    assert search(api, new, "canteen")[0] == 401


def test_a_widget_user_cannot_use_admin_routes(api: TestClient) -> None:
    site = create_site(api, "no-admin", groups=["everyone"])
    token = mint(str(site["id"]), str(site["secret"]), "mallory", ["everyone"])
    headers = {**auth(token), "Origin": ORIGIN}
    assert api.get("/v1/admin/sites", headers=headers).status_code == 403
    assert api.post("/v1/documents", headers=headers, files={"file": ("x.md", b"# x")}).status_code == 403


def test_site_budgets_apply_to_all_its_users(api: TestClient) -> None:
    site = create_site(api, "budget", requests_per_minute=2, groups=["everyone"])
    site_id, secret = str(site["id"]), str(site["secret"])
    statuses = []
    early_in_a_minute()
    for user in ("dan", "erin", "frank"):  # three people, one site budget of two requests a minute
        token = mint(site_id, secret, user, ["everyone"])
        response = api.post(
            "/v1/chat",
            json={"question": "When does the canteen serve lunch?"},
            headers={**auth(token), "Origin": ORIGIN},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429]
    assert "site.minute" in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"origins": ["intranet.example.com"]}, "scheme://host"),
        ({"origins": ["https://*.example.com"]}, "scheme://host"),
        ({"origins": []}, "origins"),
        ({"algorithm": "RS256"}, "public key"),
        ({"algorithm": "HS256", "public_key": "-----BEGIN PUBLIC KEY-----"}, "HS256"),
        ({"requests_per_minute": -1}, "requests_per_minute"),
    ],
)
def test_bad_site_definitions_get_clear_errors(api: TestClient, fields: dict[str, object], message: str) -> None:
    body = {"name": f"bad-{message}-{len(str(fields))}", "origins": [ORIGIN], **fields}
    response = api.post("/v1/admin/sites", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 422, response.text
    assert message in response.text


def hs256_by_hand(claims: dict[str, object], key: bytes) -> str:
    """An HS256 token keyed with any bytes (PyJWT itself refuses to use a public key as an HMAC secret)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def test_a_site_with_a_public_key_verifies_es256_tokens(api: TestClient) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    site = create_site(api, "es256", algorithm="ES256", public_key=public_pem)
    assert site["secret"] is None
    token = mint(str(site["id"]), private, "gina", ["everyone"], algorithm="ES256")  # type: ignore[arg-type]
    assert search(api, token, "canteen lunch")[0] == 200
    # The public key is not a secret: an HS256 token "signed" with it is refused.
    confused = hs256_by_hand(jwt.decode(token, options={"verify_signature": False}), public_pem.encode())
    assert search(api, confused, "canteen lunch")[0] == 401


def test_cors_answers_only_registered_origins_on_widget_routes(api: TestClient) -> None:
    create_site(api, "cors", origins=["https://cors.example.com"])
    preflight = {"Origin": "https://cors.example.com", "Access-Control-Request-Method": "POST"}
    ok = api.options("/v1/chat", headers=preflight)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://cors.example.com"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in ok.headers
    assert api.options("/v1/chat", headers={**preflight, "Origin": "https://evil.example.net"}).status_code == 403
    # Admin routes are never opened to other origins.
    admin = api.options("/v1/admin/sites", headers=preflight)
    assert "access-control-allow-origin" not in admin.headers
    # An actual request from the origin gets the header and may read Retry-After.
    response = api.post("/v1/search", json={"query": "x"}, headers={"Origin": "https://cors.example.com"})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://cors.example.com"
    assert "Retry-After" in response.headers["access-control-expose-headers"]
