"""Exceptions the engine raises for callers to turn into user-facing messages.

The ``ValueError`` subclasses describe bad input (a 400 for a web caller); the others
describe a missing installation step (a 503 / an operator's job).
"""

from __future__ import annotations


class SketchError(ValueError):
    """A sketch payload or sketch image cannot be used; the message is safe to show users."""


class ImageError(ValueError):
    """Uploaded bytes are not an image we accept; the message is safe to show users."""


class WeightsMissingError(RuntimeError):
    """The VGG-16/HED weights are neither converted nor available to convert."""


class ModelNotReadyError(RuntimeError):
    """A model file the engine needs (e.g. the general conv6 head) does not exist yet."""
