"""The console sign-in's state between the redirect to the provider and its callback: state, nonce, PKCE verifier,
redirect URI and where to land, in a short-lived HttpOnly cookie signed with HMAC-SHA256.

The cookie is SameSite=Lax because the provider sends the browser back cross-site; it is read only by the
callback (its path) and trusted only when its signature verifies and it has not expired. The signing key is
derived from the server's secrets (the admin key and the client's credentials), which every API process shares.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

COOKIE_NAME = "steward_sso"
COOKIE_PATH = "/v1/admin/sso"
LIFETIME_S = 600


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    next: str
    expires_at: int


def signing_key(*secrets: str | None) -> bytes:
    material = b"\0".join((s or "").encode() for s in secrets)
    return hashlib.sha256(b"steward sso login state v1\0" + material).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(state: LoginState, key: bytes) -> str:
    payload = _b64(json.dumps(asdict(state), separators=(",", ":")).encode())
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def unseal(value: str | None, key: bytes, *, now: float | None = None) -> LoginState | None:
    """The state the cookie carries, or None when it is missing, tampered with or expired."""
    if not value or value.count(".") != 1 or len(value) > 4096:
        return None
    payload, mac = value.split(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        fields: dict[str, Any] = json.loads(_unb64(payload))
        state = LoginState(**fields)
    except (ValueError, TypeError):
        return None
    if state.expires_at < (now if now is not None else time.time()):
        return None
    return state


def new_state(*, state: str, nonce: str, code_verifier: str, redirect_uri: str, next_path: str) -> LoginState:
    return LoginState(state, nonce, code_verifier, redirect_uri, next_path, int(time.time()) + LIFETIME_S)
