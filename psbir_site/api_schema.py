"""The OpenAPI schema's shared parts: the error shape every operation may answer with.

Every endpoint answers errors in one shape (``psbir_site.api_errors``): ``{"detail": "...",
"errors": {...}}``. :func:`add_error_responses` (a drf-spectacular postprocessing hook) adds
to every operation the error statuses any endpoint can give: 400 (bad input), 401 (a bad or
missing token), 403 (not allowed: role, CSRF), 404 (no such object of yours, which is also
what another organisation's id gets), 429 (throttled); operations with a request body also
413 (too large). Statuses an endpoint declares itself keep their description and get the
error shape as content.
"""

from __future__ import annotations

from typing import Any

# A string that may be null (``SerializerMethodField`` hints; OpenAPI 3.0 ``nullable``).
NULLABLE_STRING: dict[str, Any] = {"type": "string", "nullable": True}

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every API error: a sentence, and per-field messages for bad input.",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, in one sentence."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Bad input only: the messages per field (``non_field_errors`` for "
            "the request as a whole).",
        },
    },
    "required": ["detail"],
}
STANDARD_ERRORS = {
    "400": "Bad input: `detail` says what, `errors` per field.",
    "401": "No valid credentials (a missing, unknown or revoked token).",
    "403": "Not allowed: your role, your organisation, or a CSRF check (session auth).",
    "404": "Not found, or not yours (another organisation's id is the same 404).",
    "429": "Too many requests: throttled; `Retry-After` says when to try again.",
}
BODY_ERRORS = {"413": "The request body is too large."}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path, item in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            wanted = dict(STANDARD_ERRORS)
            if "requestBody" in operation:
                wanted.update(BODY_ERRORS)
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if str(code).startswith(("4", "5")) and "content" not in response:
                    response["content"] = content
    return result
