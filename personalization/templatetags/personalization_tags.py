from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html

from personalization.charts import HEIGHT, WIDTH, loss_polyline

register = template.Library()


@register.simple_tag
def loss_chart(losses: Sequence[float] | None, label: str = "Training loss per round") -> str:
    """Inline SVG of a loss curve; a dash when there are fewer than two rounds."""
    points = loss_polyline(losses or [])
    if not points:
        return format_html('<span class="muted">—</span>')
    first, last = float(losses[0]), float(losses[-1])
    return format_html(
        '<svg class="loss-chart" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
        "<title>{label}: {first} → {last} over {n} rounds</title>"
        '<polyline fill="none" stroke="currentColor" stroke-width="2" points="{points}"/>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        label=label,
        first=f"{first:.3g}",
        last=f"{last:.3g}",
        n=len(losses),
        points=points,
    )


@register.simple_tag(takes_context=True)
def personalization_status(context: template.Context) -> dict | None:
    """The signed-in user's panel status (w, serving head, new feedback, latest job)."""
    from personalization import selectors

    user = context.get("user")
    if user is None or not user.is_authenticated or user.tenant_id is None:
        return None
    return selectors.panel_status(user=user)
