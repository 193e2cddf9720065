"""Single sign-on with an OpenID Connect provider: its discovery document and keys, the tokens it signs, and
the Caller a verified token stands for.

The provider's keys (JWKS) are cached; a token signed by a key the cache does not know (the provider rotated
its keys) makes one refetch, at most once per `jwks_refetch_min_s`, so made-up key ids cannot hammer the
provider. Tokens are checked with an allowlist of asymmetric algorithms (never `none`, never HS*): signature,
issuer, audience, expiry, not-before and issued-at with a little leeway.

Every refusal is the same InvalidToken ("invalid or expired sign-in token") for the client; the reason (expired,
wrong audience, bad signature, unknown issuer...) is logged with the token's issuer and key id, never the token.

A verified person is the principal `oidc:{sub}`, made on first sign-in. Their groups come from the configured
claim on every request (they read as those groups, with the groups' clearances; a group without a row reads at
the default level, as for widget users); members of an admin group are admins, everyone else is a user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlencode

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.core.access.keys import SCOPES
from services.core.access.principals import Caller, Role
from services.core.access.rules import DEFAULT_CLASSIFICATION, effective_clearance
from services.core.db.models import Group, Principal
from services.core.errors import IdentityProviderUnavailable, InvalidToken
from services.core.settings import Settings

log = logging.getLogger(__name__)

# Asymmetric only: a provider's public keys can never verify an HMAC token, and `none` is never a signature.
ALGORITHMS = frozenset(("RS256", "ES256", "PS256"))
GENERIC_MESSAGE = "invalid or expired sign-in token"
# Caller.api_key of every request authenticated by the provider, and the marker of console sessions it opened.
OIDC_KEY = "oidc"
PRINCIPAL_PREFIX = "oidc:"
USER_SCOPES = frozenset(("search", "chat"))
MAX_TOKEN_CHARS = 16_384
MAX_SUBJECT_CHARS = 190  # the principal's name is "oidc:" + sub, at most 200 characters
MAX_GROUPS = 200
MAX_GROUP_CHARS = 100


@dataclass(frozen=True)
class OidcConfig:
    """What Steward knows of its provider and client, from the settings."""

    issuer: str
    client_id: str
    client_secret: str | None
    audience: str  # of access tokens; ID tokens are for the client id
    groups_claim: str
    admin_groups: frozenset[str]
    scopes: str
    redirect_uri: str | None
    jwks_cache_s: float
    jwks_refetch_min_s: float
    leeway_s: float
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """None when single sign-on is off (no issuer)."""
        if not settings.oidc_issuer or not settings.oidc_client_id:
            return None
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=secret or None,
            audience=settings.oidc_audience or settings.oidc_client_id,
            groups_claim=settings.oidc_groups_claim,
            admin_groups=frozenset(g.strip() for g in settings.oidc_admin_groups if g.strip()),
            scopes=settings.oidc_scopes,
            redirect_uri=settings.oidc_redirect_uri or None,
            jwks_cache_s=settings.oidc_jwks_cache_s,
            jwks_refetch_min_s=settings.oidc_jwks_refetch_min_s,
            leeway_s=settings.oidc_leeway_s,
            timeout_s=settings.oidc_timeout_s,
        )


@dataclass(frozen=True)
class Discovery:
    """The parts of the provider's /.well-known/openid-configuration Steward uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    """A person as a verified token describes them."""

    subject: str
    name: str
    email: str | None
    groups: tuple[str, ...]
    role: Role


@dataclass(frozen=True)
class LoginRequest:
    """One console sign-in under way: the provider's URL to send the browser to, and what the callback checks."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class _Key:
    key: Any  # the public key object
    alg: str | None  # the algorithm the JWK declares, if it does


class Rejected(Exception):
    """Why a token was refused: logged, never shown to the client."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier))."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def unverified_header_and_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The token's header and claims as it states them (nothing verified), or None if it is not a JWT."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


def _text(value: Any, limit: int = 200) -> str:
    """A claim or header value fit for a log line."""
    return str(value)[:limit] if value is not None else "-"


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (realm_access.roles) when no claim has that name."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def groups_from(value: Any) -> tuple[str, ...]:
    """The groups a claim lists: a list of names, or one string of names separated by commas or spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value]
    else:
        raise Rejected("the groups claim is neither a list of names nor a string")
    unique = sorted({n for n in names if n})
    if len(unique) > MAX_GROUPS or any(len(n) > MAX_GROUP_CHARS for n in unique):
        raise Rejected(f"the groups claim lists more than {MAX_GROUPS} groups or a name over {MAX_GROUP_CHARS} chars")
    return tuple(unique)


class OidcVerifier:
    """Verifies the provider's tokens and makes their Callers; one per process, built by the runtime when single
    sign-on is configured. Thread-safe: request threads share its caches."""

    def __init__(self, *, config: OidcConfig, http: httpx.Client, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._http = http
        self._clock = clock
        self._lock = threading.RLock()
        self._discovery: Discovery | None = None
        self._discovery_at = 0.0
        self._keys: dict[str, _Key] = {}
        self._keys_at: float | None = None
        self._refetched_at: float | None = None
        # When the provider last could not be reached: with nothing cached, requests are refused at once until
        # the minimum refetch interval has passed, rather than each waiting for the timeout.
        self._failed_at: float | None = None
        self.jwks_fetches = 0  # how often the keys were fetched (tests and metrics read it)

    @property
    def issuer(self) -> str:
        return self.config.issuer

    def close(self) -> None:
        """Closes the HTTP client it was handed (the runtime builds one for it alone)."""
        self._http.close()

    # -- the provider's documents -------------------------------------------------------------------------------

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, timeout=self.config.timeout_s, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable(f"the sign-in provider's {what} cannot be read") from exc
        if not isinstance(body, dict):
            raise IdentityProviderUnavailable(f"the sign-in provider's {what} is not a JSON object")
        return body

    def _fetch_discovery(self) -> Discovery:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        body = self._get_json(url, "discovery document")
        if body.get("issuer") != self.config.issuer:
            log.error(
                "OIDC discovery at %s names issuer %r, not the configured %r: single sign-on refused",
                url,
                _text(body.get("issuer")),
                self.config.issuer,
            )
            raise IdentityProviderUnavailable("the sign-in provider's discovery document names another issuer")
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = body.get(name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                log.error("OIDC discovery at %s has no usable %s", url, name)
                raise IdentityProviderUnavailable(f"the sign-in provider's discovery document has no {name}")
            endpoints[name] = value
        methods = body.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return Discovery(
            issuer=self.config.issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            token_auth_methods=tuple(str(m) for m in methods) if isinstance(methods, list) else (),
        )

    def _retry_soon(self, now: float) -> float:
        """A fetch time that makes the cache stale again after the minimum refetch interval (after a failure)."""
        return now - max(0.0, self.config.jwks_cache_s - self.config.jwks_refetch_min_s)

    def _check_recent_failure(self, now: float) -> None:
        if self._failed_at is not None and now - self._failed_at < self.config.jwks_refetch_min_s:
            raise IdentityProviderUnavailable("the sign-in provider could not be reached a moment ago")

    def discovery(self) -> Discovery:
        """The discovery document, fetched on first use and again once it is older than the key cache's TTL (the
        stale one is kept if the provider cannot be reached then, and asked again after the minimum interval)."""
        with self._lock:
            now = self._clock()
            if self._discovery is None or now - self._discovery_at >= self.config.jwks_cache_s:
                if self._discovery is None:
                    self._check_recent_failure(now)
                try:
                    self._discovery = self._fetch_discovery()
                    self._discovery_at = now
                except IdentityProviderUnavailable:
                    self._failed_at = now
                    if self._discovery is None:
                        raise
                    log.warning("OIDC discovery refresh failed; keeping the cached document", exc_info=True)
                    self._discovery_at = self._retry_soon(now)
            return self._discovery

    def _fetch_keys(self) -> dict[str, _Key]:
        jwks_uri = self.discovery().jwks_uri
        body = self._get_json(jwks_uri, "keys (JWKS)")
        self.jwks_fetches += 1
        keys: dict[str, _Key] = {}
        entries = body.get("keys")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if "alg" in entry and entry["alg"] not in ALGORITHMS:
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type this allowlist does not use (OKP, an encryption key...)
            declared = entry.get("alg")
            keys[str(entry.get("kid", ""))] = _Key(key.key, declared if isinstance(declared, str) else None)
        log.info("OIDC keys fetched from %s: kids %s", jwks_uri, sorted(keys))
        return keys

    def _key_set(self, *, refetch: bool) -> dict[str, _Key]:
        """The cached keys, refreshed when older than the TTL, or (refetch) at most once per the minimum interval."""
        fetched_at = self._keys_at
        if not refetch and fetched_at is not None and self._clock() - fetched_at < self.config.jwks_cache_s:
            return self._keys  # the common case, without the lock: a refetch elsewhere does not hold it up
        with self._lock:
            now = self._clock()
            stale = self._keys_at is None or now - self._keys_at >= self.config.jwks_cache_s
            may_refetch = self._refetched_at is None or now - self._refetched_at >= self.config.jwks_refetch_min_s
            if stale or (refetch and may_refetch):
                if self._keys_at is None:
                    self._check_recent_failure(now)
                if refetch:
                    self._refetched_at = now
                try:
                    self._keys = self._fetch_keys()
                    self._keys_at = now
                except IdentityProviderUnavailable:
                    self._failed_at = now
                    if self._keys_at is None:
                        raise
                    log.warning("OIDC keys refresh failed; keeping the cached keys", exc_info=True)
                    self._keys_at = self._retry_soon(now)
            return self._keys

    def _signing_key(self, header: Mapping[str, Any]) -> Any:
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Rejected(f"algorithm {_text(algorithm)!r} is not allowed (only {', '.join(sorted(ALGORITHMS))})")
        kid = header.get("kid")
        keys = self._key_set(refetch=False)
        key: _Key | None
        if kid is None:
            # A provider with one key may leave kid out; with several, which one is meant is unknowable.
            if len(keys) != 1:
                raise Rejected("the token names no key (kid) and the provider has several")
            key = next(iter(keys.values()))
        else:
            key = keys.get(str(kid))
            if key is None:
                keys = self._key_set(refetch=True)  # the provider may have rotated its keys
                key = keys.get(str(kid))
        if key is None:
            raise Rejected("no key with this kid in the provider's JWKS (also after a refetch)")
        if key.alg is not None and key.alg != algorithm:
            raise Rejected(f"the key is for {key.alg}, the token says {algorithm}")
        return key.key

    # -- tokens -------------------------------------------------------------------------------------------------

    def issued(self, token: str) -> bool:
        """Whether a bearer token says it comes from the configured provider (nothing verified yet)."""
        parsed = unverified_header_and_claims(token)
        return parsed is not None and parsed[1].get("iss") == self.config.issuer

    def _decode(self, token: str, *, audience: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS:
            raise Rejected("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Rejected(f"malformed token: {exc}") from exc
        key = self._signing_key(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": ["exp", "iat", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Rejected("expired (exp)") from exc
        except jwt.InvalidAudienceError as exc:
            raise Rejected(f"wrong audience (aud), expected {audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise Rejected("wrong issuer (iss)") from exc
        except jwt.InvalidSignatureError as exc:
            raise Rejected("bad signature: it does not verify with the provider's key") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Rejected("not valid yet (nbf or iat in the future)") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Rejected(f"missing claim {exc.claim!r}") from exc
        except jwt.PyJWTError as exc:
            raise Rejected(f"invalid token: {exc}") from exc
        return claims

    def _refuse(self, kind: str, token: str, reason: str) -> NoReturn:
        parsed = unverified_header_and_claims(token)
        header, claims = parsed if parsed is not None else ({}, {})
        log.warning(
            "OIDC %s refused: %s (iss=%s kid=%s alg=%s sub=%s)",
            kind,
            reason,
            _text(claims.get("iss")),
            _text(header.get("kid")),
            _text(header.get("alg")),
            _text(claims.get("sub"), 64),
        )
        raise InvalidToken(GENERIC_MESSAGE)

    def reject_foreign(self, token: str) -> NoReturn:
        """A bearer JWT from neither the provider nor a widget site: refused, with its issuer in the log."""
        if unverified_header_and_claims(token) is None:
            self._refuse("bearer token", token, "malformed: not a JWT")
        self._refuse("bearer token", token, "unknown issuer: neither the configured provider nor a widget site")

    def identity(self, claims: Mapping[str, Any]) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS:
            raise Rejected(f"sub must be a string of 1 to {MAX_SUBJECT_CHARS} characters")
        groups = groups_from(_claim(claims, self.config.groups_claim))
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        name = next(
            (v for v in (claims.get("name"), claims.get("preferred_username"), email) if isinstance(v, str) and v),
            subject,
        )
        role: Role = "admin" if self.config.admin_groups.intersection(groups) else "user"
        return Identity(subject=subject, name=name[:200], email=email, groups=groups, role=role)

    def verify_access_token(self, token: str) -> Identity:
        """The person an API call's bearer token (the provider's JWT access token) stands for, or InvalidToken."""
        try:
            return self.identity(self._decode(token, audience=self.config.audience))
        except Rejected as exc:
            self._refuse("access token", token, str(exc))

    def verify_id_token(self, token: str, *, nonce: str) -> Identity:
        """The person a sign-in's ID token names: for this client, with the nonce the sign-in sent."""
        try:
            claims = self._decode(token, audience=self.config.client_id)
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
            if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
                raise Rejected("several audiences and azp is not this client")
            presented = claims.get("nonce")
            if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), nonce.encode()):
                raise Rejected("the nonce is not this sign-in's")
            return self.identity(claims)
        except Rejected as exc:
            self._refuse("ID token", token, str(exc))

    # -- the console's sign-in (authorization code with PKCE) ---------------------------------------------------

    def redirect_uri(self, default: str) -> str:
        return self.config.redirect_uri or default

    def login_request(self, *, redirect_uri: str) -> LoginRequest:
        """Where to send the browser to sign in, with fresh state, nonce and PKCE verifier."""
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.config.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.discovery().authorization_endpoint
        return LoginRequest(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state, nonce, verifier)

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the provider's token endpoint gives for an authorization code (with the PKCE verifier and,
        for a confidential client, its secret); Rejected if it gives none."""
        discovery = self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: httpx.BasicAuth | None = None
        secret = self.config.client_secret
        if (
            secret
            and "client_secret_post" in discovery.token_auth_methods
            and ("client_secret_basic" not in discovery.token_auth_methods)
        ):
            form.update(client_id=self.config.client_id, client_secret=secret)
        elif secret:
            auth = httpx.BasicAuth(self.config.client_id, secret)
        else:
            form["client_id"] = self.config.client_id
        try:
            response = self._http.post(
                discovery.token_endpoint,
                data=form,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                timeout=self.config.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable("the sign-in provider's token endpoint cannot be reached") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise Rejected(f"the token endpoint answered {response.status_code} {_text(error)}")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise Rejected("the token endpoint gave no id_token (is 'openid' in the scopes?)")
        return id_token

    # -- the Caller ---------------------------------------------------------------------------------------------

    def caller(self, session: Session, identity: Identity) -> tuple[Caller, bool]:
        """The Caller a verified person acts as, and whether their principal was made just now (first sign-in)."""
        principal, created = _principal(session, identity)
        rows = dict(
            session.execute(select(Group.name, Group.clearance).where(Group.name.in_(identity.groups))).tuples().all()
        )
        # A group no admin has described yet reads at the default level, as a widget user's would.
        clearances = [rows.get(g, DEFAULT_CLASSIFICATION) for g in identity.groups]
        caller = Caller(
            principal.id,
            identity.name,
            identity.role,
            identity.groups,
            OIDC_KEY,
            effective_clearance(clearances),
            scopes=frozenset(SCOPES) if identity.role == "admin" else USER_SCOPES,
        )
        return caller, created


def _principal(session: Session, identity: Identity) -> tuple[Principal, bool]:
    """The person's principal, made on first sign-in (two first requests at once: the loser's insert fails on the
    unique name inside a savepoint and it takes the winner's row). Its role follows the provider's groups, so the
    console and the principals list see what the provider says now."""
    name = PRINCIPAL_PREFIX + identity.subject
    principal = session.scalar(select(Principal).where(Principal.name == name))
    created = False
    if principal is None:
        try:
            with session.begin_nested():
                principal = Principal(name=name, role=identity.role, groups=[])
                session.add(principal)
            created = True
            log.info("OIDC first sign-in: principal %s made (role %s)", name, identity.role)
        except IntegrityError:
            principal = session.scalars(select(Principal).where(Principal.name == name)).one()
    if principal.role != identity.role:
        principal.role = identity.role
        session.flush()
    return principal, created
