"""Template helpers of the retrieval pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import get_template

register = template.Library()


@register.simple_tag(takes_context=True)
def optional_include(context: Any, template_name: str) -> str:
    """Render ``template_name`` with the current context, or nothing if it does not exist.

    The search page hosts panels other apps provide (personalization's w slider and
    feedback); the page must still render when such an app is absent or not yet written.
    """
    try:
        panel = get_template(template_name)
    except template.TemplateDoesNotExist:
        return ""
    return panel.render(context.flatten(), context.get("request"))


@register.filter
def percent(done: int, total: int) -> int:
    """Progress as a whole percentage (0 when there is nothing to do)."""
    return int(100 * done / total) if total else 0
