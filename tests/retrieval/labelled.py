"""Helpers of the issue 21 tests: a labelled shapes library and drawings of each shape."""

from __future__ import annotations

from typing import Any

from retrieval.models import ImageLibrary, LibraryImage
from tests.retrieval.conftest import add_shapes
from tests.retrieval.fakes import SHAPES, circle_strokes


def label_by_name(library: ImageLibrary) -> None:
    """Category = the shape its file is named after ("cross-3.png" -> "cross")."""
    for image in LibraryImage.objects.filter(library=library):
        image.category = image.original_name.split("-")[0]
        image.save(update_fields=["category"])


def labelled_shapes(
    library: ImageLibrary, shapes: tuple[str, ...] = SHAPES, per_shape: int = 5
) -> ImageLibrary:
    """``library`` filled with ``per_shape`` photos of each shape, indexed, labelled."""
    add_shapes(library, shapes, per_shape=per_shape)
    label_by_name(library)
    return library


def _lines(*segments: list[list[float]], size: int = 512) -> dict[str, Any]:
    return {
        "width": size,
        "height": size,
        "strokes": [{"points": s, "width": 4, "erase": False} for s in segments],
    }


DRAWINGS = {
    "circle": circle_strokes(),
    "cross": _lines([[100, 100], [412, 412]], [[100, 412], [412, 100]]),
    "bars": _lines([[100, 100], [412, 100]], [[100, 256], [412, 256]], [[100, 412], [412, 412]]),
}
