"""One error shape for every 4xx/5xx: {"error": {"code", "message"}}; the message says what to fix.

A database or broker that does not answer is a 503 with Retry-After, never a crash page: the request can be
repeated once the service is back, and the server reconnects by itself (pooled connections are pinged)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import InputError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
MAX_VALIDATION_ERRORS = 10  # listed in one message; a body with thousands of mistakes needs only the first few

# what an unreachable or restarting database or broker raises (a pool that is out of connections too)
UNAVAILABLE = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError, sa.DisconnectionError, BrokerError)
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    431: "headers_too_large",
}


class APIError(Exception):
    def __init__(self, status_code: int, code: str, message: str):
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


class RequestRefused(StarletteHTTPException):
    """Raised while the body is read (too large, too many JSON keys, a client that stopped sending): an
    HTTPException, so FastAPI's body parsing passes it on instead of answering a generic 400."""

    def __init__(self, status_code: int, code: str, message: str):
        super().__init__(status_code, message)
        self.code = code


def error_response(status_code: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status_code)


def unavailable_response(what: str, **extra: object) -> JSONResponse:
    response = error_response(
        503, "service_unavailable", f"The {what} is not answering; retry in a few seconds.", **extra
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    parts = []
    for err in errors[:MAX_VALIDATION_ERRORS]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg')}")
    if len(errors) > MAX_VALIDATION_ERRORS:
        parts.append(f"and {len(errors) - MAX_VALIDATION_ERRORS} more")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        what = "message broker" if isinstance(exc, BrokerError) else "database"
        log.warning("%s unavailable: %s", what, exc.__class__.__name__)
        return unavailable_response(what)

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer is sent
        return error_response(500, "internal_error", "Something went wrong on our side; retry, or report it.")
