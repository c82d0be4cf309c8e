"""A training-loss curve as a small inline SVG (no JavaScript, no chart library)."""

from __future__ import annotations

import math
from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 240, 72, 4


def loss_polyline(losses: Sequence[float]) -> str:
    """SVG ``points`` for the finite losses, scaled into the chart box (empty if < 2)."""
    values = [float(v) for v in losses if isinstance(v, int | float) and math.isfinite(v)]
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / (len(values) - 1)
    points = []
    for i, value in enumerate(values):
        x = PAD + i * step
        y = PAD + (HEIGHT - 2 * PAD) * (high - value) / span
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)
