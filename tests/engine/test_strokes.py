"""Stroke payloads: validation messages, canvas-like rasterisation, normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.engine import preprocess
from retrieval.engine.errors import SketchError
from retrieval.engine.strokes import MAX_POINTS, MAX_STROKES, rasterize_strokes, validate_payload

from .sketches import SHAPES, as_payload, draw_lines, shape_outline


def _line(points, width=4.0, erase=False):
    return {"points": points, "width": width, "erase": erase}


def _payload(strokes, width=400, height=300):
    return {"width": width, "height": height, "strokes": strokes}


GOOD = _line([[10, 10], [200, 150]])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "JSON object"),
        ({"height": 10, "strokes": [GOOD]}, "no canvas width"),
        (_payload([GOOD], width="400"), "must be a number"),
        (_payload([GOOD], width=True), "must be a number"),
        (_payload([GOOD], height=0), "between 1 and 4096"),
        (_payload([GOOD], width=5000), "between 1 and 4096"),
        (_payload([GOOD], width=float("nan")), "must be a number"),
        ({"width": 10, "height": 10}, "list of strokes"),
        (_payload([]), "empty"),
        (_payload([GOOD] * (MAX_STROKES + 1)), "too many strokes"),
        (_payload([_line([[1, 1]] * 30_000), _line([[1, 1]] * 30_000)]), "too many points"),
        (_payload(["x"]), "Stroke 1 must be an object"),
        (_payload([{"width": 3}]), "non-empty list of points"),
        (_payload([_line([[1, "2"]])]), "pair of numbers"),
        (_payload([_line([[1, 2, 3]])]), "pair of numbers"),
        (_payload([GOOD, _line([[1, float("inf")]])]), "Stroke 2 .* finite"),
        (_payload([_line([[1e12, 2]])]), "far outside"),
        (_payload([_line([[1, 2]], width=0)]), "bad width"),
        (_payload([_line([[1, 2]], width="4")]), "bad width"),
        (_payload([_line([[1, 2]], width=-3)]), "bad width"),
        (_payload([{"points": [[1, 2]], "erase": "no"}]), "true or false"),
        (_payload([_line([[1, 2], [50, 50]], erase=True)]), "empty"),
    ],
)
def test_invalid_payloads_raise_a_clear_sketch_error(payload, message):
    with pytest.raises(SketchError, match=message):
        validate_payload(payload)


def test_sketch_error_is_a_value_error():
    assert issubclass(SketchError, ValueError)
    assert MAX_POINTS == 50_000


def test_rasterised_map_is_binary_256_and_normalised():
    rng = np.random.default_rng(0)
    out = rasterize_strokes(as_payload(shape_outline("triangle", rng)))
    assert out.dtype == np.uint8 and out.shape == (256, 256)
    assert set(np.unique(out)) == {0, 255}
    stats = preprocess.ink_stats(out)
    assert stats["bbox_fill"] == pytest.approx(preprocess.NORMALIZED_INK_SIDE / 256, abs=0.02)


def test_a_single_point_is_a_round_dot():
    # Pen widths are normalised by the median ink stroke, so the dot keeps its size relative
    # to the two thin lines drawn with it.
    lines = [_line([[20, 20], [60, 20]], width=4), _line([[20, 200], [60, 200]], width=4)]
    out = rasterize_strokes(_payload([*lines, _line([[200, 100]], width=40)]))
    ys, xs = np.nonzero(out[:, 150:] == 0)  # the dot lies right of the lines
    assert len(ys) > 0
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert h > 10 and abs(h - w) <= 1
    assert len(ys) == pytest.approx(math.pi * h * w / 4, rel=0.15)  # a disc, not a square
    lone = rasterize_strokes(_payload([_line([[100, 100]], width=10)]))
    assert 0 < (lone == 0).sum() < 100  # a lone dot stays a dot


def test_round_caps_extend_past_the_endpoints():
    out = rasterize_strokes(_payload([_line([[100, 100], [300, 100]], width=4)]))
    ys, xs = np.nonzero(out == 0)
    # The segment is normalised to the target box; caps round its ends (corner pixels free).
    left = xs.min()
    column = ys[xs == left]
    assert len(column) <= 2


def test_eraser_paints_background_over_earlier_ink_only():
    ink = _line([[50, 150], [350, 150]], width=4)
    eraser = _line([[190, 100], [190, 200]], width=40, erase=True)
    redraw = _line([[200, 120], [200, 180]], width=4)
    plain = rasterize_strokes(_payload([ink]))
    erased = rasterize_strokes(_payload([ink, eraser]))
    assert (plain == 0).sum() > 0
    # The horizontal line is cut in two: two separate runs of ink along its row.
    row = (erased == 0).any(axis=0)
    runs = np.flatnonzero(np.diff(row.astype(int)) == 1)
    assert len(runs) + int(row[0]) == 2
    later = rasterize_strokes(_payload([ink, eraser, redraw]))
    assert (later == 0).sum() > (erased == 0).sum()  # drawn after erasing: visible
    with pytest.raises(SketchError, match="erased"):
        rasterize_strokes(_payload([ink, _line([[0, 150], [400, 150]], width=80, erase=True)]))


def test_ink_outside_the_canvas_is_not_drawn():
    inside = _line([[10, 10], [100, 100]])
    outside = _line([[500, 10], [900, 10]])  # the canvas is 400 wide
    a = rasterize_strokes(_payload([inside]))
    b = rasterize_strokes(_payload([inside, outside]))
    np.testing.assert_array_equal(a, b)


def test_position_scale_and_pen_width_do_not_change_the_result_much():
    rng = np.random.default_rng(3)
    lines = shape_outline("square", rng)
    a = rasterize_strokes(as_payload(lines, canvas=(800, 600), width=5))
    b = rasterize_strokes(as_payload(lines, canvas=(2000, 3000), width=14))
    inter = np.logical_and(a == 0, b == 0).sum()
    union = np.logical_or(a == 0, b == 0).sum()
    assert inter / union > 0.6


@pytest.mark.parametrize("shape", SHAPES)
def test_canvas_sketches_land_in_the_sketchy_ink_distribution(shape):
    """A canvas sketch and a Sketchy-like 256x256 PNG of the same drawing measure alike.

    The reference is drawn like Sketchy's sketches: ~2.5 px anti-aliased strokes, bounding box
    0.65 of the frame (the medians measured on sketchy-mini, see docs/engine.md).
    """
    lines = shape_outline(shape, np.random.default_rng(7))
    points = np.concatenate(lines)
    lo, hi = points.min(axis=0), points.max(axis=0)
    fit = 0.648 / (hi - lo).max()
    framed = [(line - (lo + hi) / 2) * fit + 0.5 for line in lines]
    sketchy = preprocess.ink_stats(preprocess.sketch_image_to_map(draw_lines(framed, width=1.8)))
    assert 2.2 <= sketchy["stroke_width"] <= 2.9
    for canvas, pen in (((800, 600), 4.0), ((3000, 2000), 12.0), ((300, 300), 2.0)):
        c = preprocess.ink_stats(rasterize_strokes(as_payload(lines, canvas=canvas, width=pen)))
        assert c["stroke_width"] == pytest.approx(sketchy["stroke_width"], abs=0.5)
        assert 2.0 <= c["stroke_width"] <= 3.3  # axis-aligned lines measure ~0.5 px wider
        assert c["bbox_fill"] == pytest.approx(sketchy["bbox_fill"], abs=0.03)
        assert c["ink_fraction"] == pytest.approx(sketchy["ink_fraction"], rel=0.3)


def test_many_points_rasterise_quickly_enough():
    t = np.linspace(0, 40 * math.pi, 40_000)
    points = np.stack([200 + 150 * np.cos(t) * t / t[-1], 150 + 100 * np.sin(t)], 1)
    out = rasterize_strokes(_payload([_line(points.tolist(), width=3)]))
    assert (out == 0).any()
