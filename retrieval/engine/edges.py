"""Photo -> binary edge map (section III.B), with HED or Canny.

Steps for HED (the paper used gPb; HED is its learned successor and reuses our VGG weights):
1. resize the photo so its longer side is 256 (the encoder's input size, so the thin edges
   are never resampled again) and reflect-pad it to 256x256 so photos batch together;
2. HED edge probability, cropped back to the photo's own area;
3. non-maximum suppression across the edge (as Canny does) so an edge is one pixel wide;
4. the paper's dual threshold + hysteresis over the edge pixels: the strongest 25% are kept,
   the weakest 25% dropped, the middle half kept only where 8-connected to a strong pixel;
5. lines thickened to a sketch's stroke width, pad to a white 256x256 square, binarise at 127.

Canny (``edge_method="canny"``) replaces steps 2-4 by ``cv2.Canny`` with thresholds from the
same percentiles of the gradient magnitude; it needs no network and is the fallback.

A binary map is uint8 (256, 256) with 0 = edge/ink (black) and 255 = background.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .encoder import INPUT_SIZE, rgb_to_caffe_tensor
from .hed import HEDNet

EDGE_METHODS = ("hed", "canny")
# Edge pixels (after NMS) weaker than this are noise, not edges; the percentiles of the paper
# are taken over the pixels above it (HED's probability is never exactly 0).
HED_MIN_PROB = 0.1
STRONG_FRACTION = 0.25  # "the strongest edge information is retained 25%"
WEAK_FRACTION = 0.25  # "the weakest edge information is removed 25%"
EDGE_THRESHOLD = 127  # binarisation threshold for edge maps (III.B)
# Final line width in pixels; a Sketchy sketch's strokes are ~2.5 px wide at 256x256.
LINE_WIDTH = 2


def resize_long_side(image: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize so the longer side is ``size`` (area filter when shrinking), keeping aspect."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) == (w, h):
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, (new_w, new_h), interpolation=interp)


def pad_to_square(binary: np.ndarray, size: int = INPUT_SIZE, fill: int = 255) -> np.ndarray:
    """Centre ``binary`` on a ``size`` x ``size`` canvas of ``fill`` (it must already fit)."""
    h, w = binary.shape[:2]
    out = np.full((size, size), fill, dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top : top + h, left : left + w] = binary
    return out


def hed_probabilities(
    net: HEDNet,
    images: list[np.ndarray],
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> list[np.ndarray]:
    """Edge probability in [0, 1] (float32, photo-sized after resizing) for RGB uint8 images."""
    resized = [resize_long_side(im) for im in images]
    batch = np.stack([_reflect_pad(im) for im in resized])
    x = rgb_to_caffe_tensor(batch).to(device).contiguous(memory_format=memory_format)
    with torch.inference_mode():
        prob = net(x)[:, 0].float().cpu().numpy()
    return [p[: im.shape[0], : im.shape[1]].copy() for p, im in zip(prob, resized, strict=True)]


def _reflect_pad(image: np.ndarray) -> np.ndarray:
    # Reflection, not white: a white band would be an edge for HED along the photo's border.
    h, w = image.shape[:2]
    return cv2.copyMakeBorder(
        image, 0, INPUT_SIZE - h, 0, INPUT_SIZE - w, borderType=cv2.BORDER_REFLECT_101
    )


def non_max_suppression(strength: np.ndarray, *, tolerance: float = 1.01) -> np.ndarray:
    """Keep pixels that are a local maximum of ``strength`` across the edge.

    HED's edges are ridges a few pixels wide; at a ridge's crest the first derivative is ~0,
    so its direction is noise (Canny-style NMS breaks the lines there). The normal is taken
    from the Hessian of the smoothed map instead (as structured-edge / HED post-processing
    does): the eigenvector of the most negative curvature, i.e. across the ridge.
    """
    e = strength.astype(np.float32)
    smooth = cv2.GaussianBlur(e, (0, 0), 2.0)
    oy, ox = np.gradient(smooth)
    oxy, oxx = np.gradient(ox)
    oyy, _ = np.gradient(oy)
    # Principal axis of the larger Hessian eigenvalue, turned by 90 degrees.
    normal = 0.5 * np.arctan2(2.0 * oxy, oxx - oyy) + np.pi / 2
    h, w = e.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cos, sin = np.cos(normal).astype(np.float32), np.sin(normal).astype(np.float32)
    keep = e > 0
    for d in (-1.0, 1.0):
        # Bilinear sample of the neighbour one pixel along the normal, each side.
        neighbour = cv2.remap(
            e, xs + d * cos, ys + d * sin, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        keep &= e * tolerance >= neighbour
    return np.where(keep, e, 0).astype(np.float32)


def hysteresis(
    strength: np.ndarray,
    *,
    floor: float,
    strong_fraction: float = STRONG_FRACTION,
    weak_fraction: float = WEAK_FRACTION,
) -> np.ndarray:
    """Boolean edge mask by the paper's dual threshold over the pixels above ``floor``."""
    values = strength[strength > floor]
    if values.size == 0:
        return np.zeros(strength.shape, dtype=bool)
    high = np.quantile(values, 1.0 - strong_fraction)
    low = np.quantile(values, weak_fraction)
    candidate = (strength >= low) & (strength > floor)
    strong = strength >= high
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    has_strong = np.zeros(count, dtype=bool)
    has_strong[np.unique(labels[strong])] = True
    has_strong[0] = False  # label 0 is the background
    return has_strong[labels]


def mask_to_edge_map(mask: np.ndarray, *, line_width: int = LINE_WIDTH) -> np.ndarray:
    """Edge mask (photo-sized) -> thickened, white-padded, binarised 256x256 edge map."""
    ink = mask.astype(np.uint8) * 255
    if line_width > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (line_width, line_width))
        ink = cv2.dilate(ink, kernel)
    gray = 255 - ink
    if max(gray.shape) != INPUT_SIZE:
        gray = resize_long_side(gray)
    square = pad_to_square(gray)
    return np.where(square > EDGE_THRESHOLD, 255, 0).astype(np.uint8)


def hed_edge_maps(
    net: HEDNet,
    images: list[np.ndarray],
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> list[np.ndarray]:
    """RGB uint8 photos -> binary edge maps with HED + NMS + hysteresis."""
    maps = []
    for prob in hed_probabilities(net, images, device=device, memory_format=memory_format):
        thin = non_max_suppression(prob)
        maps.append(mask_to_edge_map(hysteresis(thin, floor=HED_MIN_PROB)))
    return maps


def canny_edge_map(image: np.ndarray) -> np.ndarray:
    """RGB uint8 photo -> binary edge map with Canny (percentile thresholds, as for HED)."""
    gray = cv2.cvtColor(resize_long_side(image), cv2.COLOR_RGB2GRAY)
    gray = cv2.GaussianBlur(gray, (5, 5), 1.2)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    values = magnitude[magnitude > 1e-3]
    if values.size == 0:
        return pad_to_square(np.full(gray.shape, 255, dtype=np.uint8))
    # Percentiles of *all* gradient pixels, most of which are texture; Canny's own NMS then
    # keeps the ridges. 80/95 keeps outlines and drops most texture on Sketchy photos.
    # Capped below the strongest gradient: on a clean image (a drawing, a logo) nearly every
    # gradient pixel is an edge and the percentiles would sit at the maximum.
    high = min(float(np.quantile(values, 0.95)), 0.8 * float(values.max()))
    low = min(float(np.quantile(values, 0.80)), 0.5 * high)
    edges = cv2.Canny(gx.astype(np.int16), gy.astype(np.int16), low, high, L2gradient=True)
    return mask_to_edge_map(edges > 0)


def edge_maps(
    images: list[np.ndarray],
    *,
    method: str,
    net: HEDNet | None = None,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> list[np.ndarray]:
    """Dispatch on ``method`` ("hed" needs ``net``)."""
    if method == "hed":
        if net is None:
            raise ValueError("edge_method='hed' needs the HED network")
        return hed_edge_maps(net, images, device=device, memory_format=memory_format)
    if method == "canny":
        return [canny_edge_map(im) for im in images]
    raise ValueError(f"unknown edge method {method!r}; expected one of {EDGE_METHODS}")
