"""One error shape for the whole API: ``{"detail": "...", "errors": {...}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
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
            response.data = {"detail": "Invalid input.", "errors": data}
    return response
