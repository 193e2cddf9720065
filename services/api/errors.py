"""The one place where errors become HTTP responses: `{"error": {"code", "message"}}` with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
    errors.TooManyFailedLogins: 429,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedFormat: 415,
    errors.InvalidInput: 422,
    errors.EmptyDocument: 422,
    errors.CorruptDocument: 422,
    errors.PolicyViolation: 403,
    errors.LLMUnavailable: 503,
    errors.QueueUnavailable: 503,
    errors.LLMRejected: 502,
    errors.Overloaded: 429,
    errors.QuotaExceeded: 429,
    errors.QuotaUnavailable: 503,
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


async def _steward_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.StewardError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.NotAuthenticated) else {}
    if isinstance(
        exc,
        errors.LLMUnavailable
        | errors.QueueUnavailable
        | errors.Overloaded
        | errors.QuotaExceeded
        | errors.QuotaUnavailable
        | errors.TooManyFailedLogins,
    ):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, errors.QuotaExceeded):
        headers["X-RateLimit-Reset"] = str(exc.reset_at)  # epoch seconds, as GitHub's API sends it
    return JSONResponse(error_body(exc.code, exc.message), status_code=_status_for(exc), headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in exc.errors()
    )
    return JSONResponse(error_body("invalid_request", problems or "invalid request"), status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.StewardError, _steward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
