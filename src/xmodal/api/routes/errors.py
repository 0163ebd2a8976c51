"""Every error of the HTTP API as ``{"error": code, "detail": message}``, and the handlers that
answer it.

:class:`ApiError` is an expected refusal a route raises (or :func:`api_error` makes from a
service refusal, with the status :func:`~xmodal.api.limits.error_status` gives it). A request
the models reject is 422 ``invalid_request``, naming the first fields at fault; any other
exception is a bug: 500 ``internal``, logged, with no internals in the answer.

Example:
    >>> from xmodal.api.limits import Overloaded
    >>> err = api_error(Overloaded("all 2 work slots are busy", retry_after=1))
    >>> err.status, err.code, err.headers
    (429, 'overloaded', {'Retry-After': '1'})
    >>> api_error(RuntimeError("a bug")) is None
    True
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from xmodal.api.limits import error_status

__all__ = ["ApiError", "add_error_handlers", "api_error", "error_response"]

log = logging.getLogger("xmodal.api.http")  # the server's log, named as before the split


class ApiError(Exception):
    """An expected refusal, answered as ``{"error": code, "detail": message}``."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def error_response(status: int, code: str, detail: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON answer of an error."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def api_error(exc: BaseException) -> ApiError | None:
    """An :class:`ApiError` for an expected refusal (429 with Retry-After); None for a bug."""
    mapped = error_status(exc)
    if mapped is None:
        return None
    status, code = mapped
    headers = {"Retry-After": str(getattr(exc, "retry_after", 1))} if status == 429 else None
    return ApiError(status, code, str(exc) or code, headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", _validation_message(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, f"http_{exc.status_code}", str(exc.detail),
                          getattr(exc, "headers", None))


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", f"internal error ({type(exc).__name__}); see the "
                          "server log")


def add_error_handlers(app: FastAPI) -> None:
    """Answer refusals, invalid requests, routing errors (404, 405) and bugs as JSON errors."""
    app.add_exception_handler(ApiError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _bug)
