"""Domain errors with stable codes and the one DRF exception handler that renders them.

Every API error body is ``{"code": str, "message": str, "extra": dict}``. Codes are part of the
public contract (the mini-program and desktop client switch on them); messages are translated.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response


class ApplicationError(Exception):
    """A refused request: the caller did something the rules do not allow."""

    code: str = "error"
    http_status: int = status.HTTP_400_BAD_REQUEST
    default_message = "Request refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        http_status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = str(message or self.default_message)
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.extra = extra or {}
        super().__init__(self.message)


class NotFoundError(ApplicationError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND
    default_message = "Not found."


class PermissionError_(ApplicationError):
    code = "forbidden"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = "You are not allowed to do this."


class ConflictError(ApplicationError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "forbidden",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.ValidationError: "invalid",
}


def error_body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.extra), status=exc.http_status)
    # Imported here: rest_framework.views loads the authentication classes, which import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, drf_exceptions.APIException)
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    detail_code = exc.get_codes() if isinstance(exc, drf_exceptions.AuthenticationFailed) else None
    if isinstance(detail_code, str) and detail_code.startswith("token_"):
        code = detail_code  # token_expired / token_revoked / token_invalid
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = error_body(code, "Invalid input.", {"fields": exc.detail})
    else:
        extra: dict[str, Any] = {}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
            extra["retry_after_seconds"] = int(wait)
        response.data = error_body(code, str(exc.detail), extra)
    return response
