"""Preprocessing invariants: sizes, binarisation thresholds, framing, edge maps."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.engine import edges, preprocess
from retrieval.engine.errors import SketchError
from retrieval.engine.hed import HEDNet

from .conftest import white_square_on_black
from .sketches import draw_lines, shape_outline


def _is_binary_map(m: np.ndarray) -> bool:
    return m.dtype == np.uint8 and m.shape == (256, 256) and set(np.unique(m)) <= {0, 255}


def test_sketch_threshold_is_200():
    gray = np.full((256, 256), 255, np.uint8)
    gray[10, 10], gray[20, 20] = 200, 201
    out = preprocess.sketch_image_to_map(gray, normalize=False)
    assert _is_binary_map(out)
    assert out[10, 10] == 0 and out[20, 20] == 255


def test_non_square_sketch_is_padded_not_stretched():
    gray = np.full((100, 300), 255, np.uint8)
    gray[40:60, 140:160] = 0  # a square blob
    out = preprocess.sketch_image_to_map(gray, normalize=False)
    ys, xs = np.nonzero(out == 0)
    assert abs((ys.max() - ys.min()) - (xs.max() - xs.min())) <= 1  # still square


def test_normalisation_crops_to_ink_with_a_fixed_margin():
    rng = np.random.default_rng(0)
    small = draw_lines([line * 0.4 + 0.05 for line in shape_outline("square", rng)])
    out = preprocess.sketch_image_to_map(small)
    stats = preprocess.ink_stats(out)
    assert stats["bbox_fill"] == pytest.approx(preprocess.NORMALIZED_INK_SIDE / 256, abs=0.02)
    ys, xs = np.nonzero(out == 0)
    assert abs((ys.min() + ys.max()) / 2 - 128) <= 2 and abs((xs.min() + xs.max()) / 2 - 128) <= 2


def test_rgba_and_rgb_sketches_are_accepted_and_empty_ones_refused():
    rgba = np.zeros((64, 64, 4), np.uint8)  # fully transparent = white paper
    rgba[30:34, 10:50] = (0, 0, 0, 255)
    assert (preprocess.sketch_image_to_map(rgba) == 0).any()
    with pytest.raises(SketchError):
        preprocess.sketch_image_to_map(np.full((64, 64, 3), 255, np.uint8))
    with pytest.raises(SketchError):
        preprocess.sketch_image_to_map(np.zeros((8, 8), np.float32))


def test_hysteresis_keeps_weak_pixels_only_when_connected_to_strong_ones():
    strength = np.zeros((20, 20), np.float32)
    strength[5, 2:12] = 0.5  # a middling line ...
    strength[5, 12:20] = 1.0  # ... continued by a strong one
    strength[15, 2:12] = 0.5  # a middling line alone
    strength[10, 15] = 0.15  # among the weakest 25%: dropped even though it touches ...
    strength[10, 16] = 1.0  # ... a strong pixel
    # 30 edge pixels: the weakest quarter is 0.15, the strongest quarter 1.0.
    mask = edges.hysteresis(strength, floor=0.1, strong_fraction=0.25, weak_fraction=0.25)
    assert mask[5, 2:20].all()
    assert not mask[15].any()
    assert not mask[10, 15] and mask[10, 16]


def test_non_max_suppression_thins_a_thick_ridge():
    strength = np.zeros((32, 32), np.float32)
    for offset, value in ((-2, 0.3), (-1, 0.7), (0, 1.0), (1, 0.7), (2, 0.3)):
        strength[16 + offset, 4:28] = value
    thin = edges.non_max_suppression(strength)
    assert (thin[16, 6:26] == 1.0).all()
    assert not thin[14:16, 6:26].any() and not thin[17:19, 6:26].any()


def test_canny_edge_map_outlines_a_square():
    out = edges.canny_edge_map(white_square_on_black(200, 50, 150))
    assert _is_binary_map(out)
    ink = out == 0
    # 200 px -> 256 px: the square's border lands near 64 and 192.
    assert ink[60:196, 60:68].any(axis=1).mean() > 0.9 and ink[100:150, 100:150].sum() == 0


def test_hed_edge_map_outlines_a_square(backbone_state):
    net = HEDNet.from_state_dict(backbone_state)
    (out,) = edges.hed_edge_maps(net, [white_square_on_black(256, 64, 192)])
    assert _is_binary_map(out)
    ink = out == 0
    border = np.zeros_like(ink)
    border[58:198, 58:198] = True
    border[70:186, 70:186] = False
    assert ink[border].mean() > 0.15  # the outline is found ...
    assert ink[~border].mean() < 0.01  # ... and nothing else


def test_photos_of_any_shape_give_a_padded_256_map():
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 255, (90, 300, 3), np.uint8)
    out = edges.canny_edge_map(wide)
    assert _is_binary_map(out)
    # Padding is background: no edges above and below the photo band.
    assert (out[:70] == 255).all() and (out[-70:] == 255).all()
