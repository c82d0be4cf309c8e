"""One error shape for the whole API: ``{"detail": "...", "errors": {...}}``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request is too large."
    default_code = "payload_too_large"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Django raises these while DRF parses the body; unhandled, they become a bare HTML 400
    # that an API client cannot read. Map them to the one JSON error shape.
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send a smaller sketch, or upload files as multipart."
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ValidationError({"detail": str(exc)})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        if isinstance(data, dict) and set(data) == {"detail"}:
            detail = data["detail"]
            message = detail[0] if isinstance(detail, list) and detail else detail
            response.data = {"detail": str(message), "errors": data}
        else:
            response.data = {"detail": _first_message(data) or "Invalid input.", "errors": data}
    return response


def _first_message(data: Any) -> str | None:
    """The one message of a single-field error, prefixed with its field, for the ``detail``."""
    if isinstance(data, dict) and len(data) == 1:
        field, messages = next(iter(data.items()))
        if isinstance(messages, str):  # ValidationError({"field": "text"}) keeps a bare string
            messages = [messages]
        if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], str):
            return messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    return None


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


_PLAIN_MESSAGES = {
    400: "Bad request: the request could not be read (for example a malformed multipart or "
    "form body).",
    403: "Forbidden.",
    404: "Not found: there is no API endpoint at this URL (see /api/schema/).",
    405: "Method not allowed.",
    413: "The request is too large.",
}


class ApiJsonErrorsMiddleware:
    """Under ``/api/``, turn Django's HTML error pages into the API's JSON error shape.

    DRF answers its own errors in JSON, but some happen before or outside a DRF view: an
    unknown URL (Django's 404 page, or with DEBUG on the debug page that lists every URL
    pattern), a body Django cannot parse (a malformed multipart body: a bare 400), a CSRF
    refusal. An API client gets ``{"detail": ...}`` with ``application/json`` for all of them.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if (
            is_api_path(request.path_info)
            and 400 <= response.status_code < 500
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return self._json(response)
        return response

    @staticmethod
    def _json(response: Any) -> Any:
        from http import HTTPStatus

        from django.http import JsonResponse

        code = response.status_code
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        replacement = JsonResponse({"detail": _PLAIN_MESSAGES.get(code, f"{phrase}.")}, status=code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement
