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
