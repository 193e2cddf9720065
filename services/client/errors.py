"""Typed errors for the server's error answers: `{"error": {"code", "message"}}` with a status."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx


class StewardError(Exception):
    """An error answer from the Steward API.

    `status` is the HTTP status; for an `error` event inside a chat stream (whose response was a 200) it is the
    status the same error has as a JSON answer, and `streamed` is True. `retry_after` is in seconds, from the
    Retry-After header, when the server said when to come back."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None, streamed: bool = False
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after
        self.streamed = streamed


class InvalidRequestError(StewardError):
    """422: the message names the field and the problem."""


class AuthenticationError(StewardError):
    """401: no key, or an invalid, revoked or expired one."""


class PermissionDeniedError(StewardError):
    """403: the key's role or scopes do not allow this, or a policy rule refused it."""


class NotFoundError(StewardError):
    """404: not found, or not readable by this key (the server does not tell the two apart)."""


class ConflictError(StewardError):
    """409: e.g. retrying a document that has not failed."""


class RateLimitError(StewardError):
    """429: a quota is spent, the model server is saturated, or too many failed authentications."""


class UnavailableError(StewardError):
    """503: the model server (or the queue, or the quota store) is down; come back after `retry_after`."""


ERROR_BY_STATUS: dict[int, type[StewardError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: UnavailableError,
}

# A stream's error event carries no status; these are the statuses its codes have as JSON answers
# (services/api/errors.py). Anything else that can end a stream is a server fault.
STATUS_BY_STREAMED_CODE = {
    "llm_unavailable": 503,
    "queue_unavailable": 503,
    "quota_unavailable": 503,
    "overloaded": 429,
    "quota_exceeded": 429,
    "llm_rejected_request": 502,
    "policy_violation": 403,
    "conversation_not_found": 404,
}


def error_for(status: int, code: str, message: str, *, retry_after: float | None = None) -> StewardError:
    return ERROR_BY_STATUS.get(status, StewardError)(status, code, message, retry_after=retry_after)


def error_from_response(response: httpx.Response) -> StewardError:
    """The typed error of an error answer; the response must have been read."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):  # not Steward's error body: a proxy's page, say
        code, message = "http_error", response.text[:200]
    return error_for(response.status_code, code, message, retry_after=retry_after)


def error_from_event(code: str, message: str) -> StewardError:
    """The typed error an `error` event of a chat stream carries."""
    status = STATUS_BY_STREAMED_CODE.get(code, 500)
    error = ERROR_BY_STATUS.get(status, StewardError)(status, code, message, streamed=True)
    return error


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from either form of Retry-After: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
