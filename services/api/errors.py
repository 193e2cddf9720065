"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}` with a fitting status."""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.StewardError], int] = {
    errors.NotAuthenticated: 401,
    errors.PermissionDenied: 403,
    errors.DocumentNotFound: 404,
    errors.ConversationNotFound: 404,
    errors.PrincipalNotFound: 404,
    errors.GroupNotFound: 404,
    errors.MembershipNotFound: 404,
    errors.KeyNotFound: 404,
    errors.SiteNotFound: 404,
    errors.MessageNotFound: 404,
    errors.SsoNotConfigured: 404,
    errors.ModelNotFound: 404,
    errors.GenerationNotFound: 404,
    errors.TooManyFailedLogins: 429,
    errors.Conflict: 409,
    errors.BackupError: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedFormat: 415,
    errors.InvalidInput: 422,
    errors.EmptyDocument: 422,
    errors.CorruptDocument: 422,
    errors.PolicyViolation: 403,
    errors.LLMUnavailable: 503,
    errors.QueueUnavailable: 503,
    errors.IdentityProviderUnavailable: 503,
    errors.LLMRejected: 502,
    errors.Overloaded: 429,
    errors.QuotaExceeded: 429,
    errors.QuotaUnavailable: 503,
    errors.DatabaseUnavailable: 503,
    errors.StorageUnavailable: 503,
    errors.EmbedderUnavailable: 503,
    errors.ConfigurationError: 500,
    errors.AuditChainBroken: 500,
}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable, e.g. invalid_request, document_not_found")
    message: str = Field(description="for people: what went wrong and, where it helps, what to do")


class ErrorResponse(BaseModel):
    """Every error Steward answers with, whatever its status."""

    error: ErrorDetail


# Declared on every route (services/api/app.py), in place of FastAPI's default 422 schema, which this API's
# validation errors do not use.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "no key, or an invalid, revoked or expired one"),
        (403, "the key's role or scopes do not allow this"),
        (404, "not found, or not readable by this caller"),
        (422, "invalid input: the message names the field and the problem"),
        (429, "a quota, a failed-authentication limit or load shedding: Retry-After says when to come back"),
    )
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _status_for(exc: errors.StewardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


# Routes that answer errors in OpenAI's shape, so its SDKs raise their own typed errors (services/api/openai).
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}


def _openai(request: Request) -> bool:
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in OPENAI_PATHS)


def _openai_status(status: int) -> int:
    # OpenAI answers every invalid request with 400; Steward's 422 means the same.
    return 400 if status == 422 else status


def openai_error_body(exc: errors.StewardError, status: int | None = None) -> dict[str, dict[str, Any]]:
    """`{"error": {"message", "type", "param", "code"}}`, as OpenAI's API answers."""
    status = _openai_status(status or _status_for(exc))
    kind = OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": exc.message, "type": kind, "param": getattr(exc, "param", None), "code": exc.code}}


async def _steward_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.StewardError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.NotAuthenticated) else {}
    if isinstance(
        exc,
        errors.LLMUnavailable
        | errors.QueueUnavailable
        | errors.IdentityProviderUnavailable
        | errors.Overloaded
        | errors.QuotaExceeded
        | errors.QuotaUnavailable
        | errors.DatabaseUnavailable
        | errors.StorageUnavailable
        | errors.EmbedderUnavailable
        | errors.TooManyFailedLogins,
    ):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, errors.QuotaExceeded):
        headers["X-RateLimit-Reset"] = str(exc.reset_at)  # epoch seconds, as GitHub's API sends it
    if _openai(request):
        status = _openai_status(_status_for(exc))
        return JSONResponse(openai_error_body(exc), status_code=status, headers=headers)
    return JSONResponse(error_body(exc.code, exc.message), status_code=_status_for(exc), headers=headers)


def _openai_validation(exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "extra_forbidden":
        message, code = f"Unrecognized request argument supplied: {param}", "unknown_parameter"
    elif first.get("type") == "missing":
        message, code = f"Missing required parameter: '{param}'.", "missing_required_parameter"
    elif first.get("type") == "json_invalid":
        message, code, param = "We could not parse the JSON body of your request.", "invalid_json", None
    else:
        message, code = f"Invalid value for '{param}': {first.get('msg', 'invalid')}.", "invalid_value"
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return JSONResponse(body, status_code=400)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _openai(request):
        return _openai_validation(exc)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in exc.errors()
    )
    return JSONResponse(error_body("invalid_request", problems or "invalid request"), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    if _openai(request):
        kind = OPENAI_TYPES.get(exc.status_code, "invalid_request_error")
        body = {"error": {"message": str(exc.detail), "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


# Storage faults a retry can outlive: the disk full, a quota reached, the folder remounted read-only.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def infrastructure_error(exc: Exception) -> errors.StewardError | None:
    """The typed error for a fault of the machinery under Steward (database, disk), or None for a bug."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return errors.StorageUnavailable(f"the data folder cannot be written ({exc.strerror}); nothing was kept")
    if isinstance(exc, OperationalError | InterfaceError):
        detail = str(exc.orig or exc).lower()
        if "disk is full" in detail or "readonly" in detail or "read-only" in detail:
            return errors.StorageUnavailable(
                "the database cannot be written (disk full or read-only); nothing was kept"
            )
        return errors.DatabaseUnavailable("the database is unreachable or restarting; nothing was kept, retry shortly")
    return None


async def _infrastructure_error(request: Request, exc: Exception) -> JSONResponse:
    typed = infrastructure_error(exc)
    if typed is None:
        return await _unexpected_error(request, exc)
    log.warning("%s: %s", typed.code, exc)
    return await _steward_error(request, typed)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    if _openai(request):
        body = {
            "error": {"message": "an unexpected error occurred", "type": "server_error", "param": None, "code": None}
        }
        return JSONResponse(body, status_code=500)
    return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _infrastructure_error)
    app.add_exception_handler(InterfaceError, _infrastructure_error)
    app.add_exception_handler(OSError, _infrastructure_error)
    app.add_exception_handler(Exception, _unexpected_error)
