"""How pages name a photo and describe it in alt text (:mod:`retrieval.captions`)."""

from __future__ import annotations

from typing import Any

from django import template

from retrieval import captions

register = template.Library()


@register.filter
def photo_title(image: Any) -> str:
    """The photo's caption, or its file name cleaned ("Angry monkey", not "angry_monkey_01")."""
    return captions.photo_title(image) if image is not None else ""


@register.filter
def photo_alt(image: Any) -> str:
    """Alt text describing the photo: "A simple pig, category mammal"."""
    return captions.photo_alt(image) if image is not None else ""
