"""One rule for the short texts people type: names, titles, labels, captions.

Printable text only: no control characters (U+0000-U+001F, U+007F-U+009F: tabs and line
breaks included, except where ``multiline``), no line/paragraph separators and no bidi
overrides (U+202A-U+202E, U+2066-U+2069) that make a name display as something else;
trimmed of surrounding spaces; at most ``max_length`` characters as sent. The same rule backs
the API's fields (a 400 naming the field), the pages' forms (a form error) and the services
(whatever calls them). ``PATTERN`` states it in the OpenAPI schema.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

_FORBIDDEN = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_FORBIDDEN_MULTILINE = (
    "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
)
# What the schema says of a field: only allowed characters, and (when it may not be blank)
# at least one that is not a space.
PATTERN_OPTIONAL = f"^[^{_FORBIDDEN}]*$"
PATTERN_REQUIRED = f"^[^{_FORBIDDEN}]*[^{_FORBIDDEN}\\s][^{_FORBIDDEN}]*$"
PATTERN_MULTILINE = f"^[^{_FORBIDDEN_MULTILINE}]*$"
_BAD = re.compile(f"[{_FORBIDDEN}]")
_BAD_MULTILINE = re.compile(f"[{_FORBIDDEN_MULTILINE}]")


def text_problem(
    value: Any, *, max_length: int, allow_blank: bool = False, multiline: bool = False
) -> str | None:
    """What is wrong with ``value`` as a typed text, or None."""
    if not isinstance(value, str):
        return "Must be text."
    bad = (_BAD_MULTILINE if multiline else _BAD).search(value)
    if bad:
        return (
            f"Use printable text: control characters such as U+{ord(bad.group()):04X} are not "
            "allowed."
        )
    if len(value) > max_length:
        return f"Use at most {max_length} characters."
    if not allow_blank and not value.strip():
        return "This field may not be blank."
    return None


def printable(value: str) -> str:
    """``value`` without the characters the rule refuses (for texts we compose, e.g. titles)."""
    return _BAD.sub("", value)


def clean_text(
    value: Any,
    *,
    field: str,
    max_length: int,
    allow_blank: bool = False,
    multiline: bool = False,
) -> str:
    """``value`` trimmed, or ``ValidationError({field: reason})``."""
    problem = text_problem(
        value, max_length=max_length, allow_blank=allow_blank, multiline=multiline
    )
    if problem:
        raise ValidationError({field: problem})
    return value.strip()


class PrintableTextField(serializers.CharField):
    """A DRF ``CharField`` that applies :func:`text_problem` to the text as sent."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)
        pattern = (
            PATTERN_MULTILINE
            if multiline
            else (PATTERN_OPTIONAL if self.allow_blank else PATTERN_REQUIRED)
        )
        # Declares the rule in the schema (drf-spectacular reads the validator's pattern).
        from django.core.validators import RegexValidator

        self.validators.append(RegexValidator(pattern))

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data not in (serializers.empty, None) and not isinstance(data, str):
            # DRF's CharField would turn 0 or true into "0" / "True": a text must be sent as one.
            raise serializers.ValidationError("Must be text.")
        if isinstance(data, str):
            problem = text_problem(
                data,
                max_length=self.max_length or 10**6,
                allow_blank=self.allow_blank,
                multiline=self.multiline,
            )
            if problem:
                raise serializers.ValidationError(problem)
        return super().run_validation(data)


class PrintableTextFormField(forms.CharField):
    """The pages' form field for the same rule (a form error instead of a 400)."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value not in self.empty_values:
            problem = text_problem(
                value,
                max_length=self.max_length or 10**6,
                allow_blank=not self.required,
                multiline=self.multiline,
            )
            if problem:
                raise ValidationError(problem, code="invalid")
        return super().to_python(value)
