"""One JSON error shape for every failure: {"error": {"code", "message", "request_id", ...}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. `details` of a 422, `retry_after` of a lockout

    code: str
    message: str
    request_id: str | None


class ErrorBody(BaseModel):
    """The shape of every error response, as documented in the OpenAPI schema."""

    error: ErrorDetail


# Documented on every API route, so clients (and schemathesis) know each status and its body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _CODES.items()
    if status not in (405, 500)
}


class AppError(Exception):
    """An error a route raises on purpose; it becomes the JSON error shape with its status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code or _CODES.get(status_code, "error")
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


class DependencyUnavailable(RuntimeError):
    """A store the request needs (Redis) is down or too slow: 503, nothing half-written, retry later."""


def error_body(code: str, message: str, request_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "request_id": request_id, **extra}}


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    request: Request,
    status_code: int,
    message: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        error_body(code or _CODES.get(status_code, "error"), message, request_id_of(request), **extra),
        status_code=status_code,
        headers=headers,
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(
        request, exc.status_code, exc.message, code=exc.code, headers=exc.headers, **exc.extra
    )


async def _dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DependencyUnavailable)
    return error_response(
        request,
        503,
        "The service cannot reach its data store right now; nothing was changed. Please retry shortly.",
        code="store_unavailable",
        headers={"Retry-After": "5"},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
    return error_response(request, exc.status_code, message, headers=dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is left out on purpose: it may be patient text.
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return error_response(request, 422, "The request is not valid.", details=details)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DependencyUnavailable, _dependency_unavailable)
