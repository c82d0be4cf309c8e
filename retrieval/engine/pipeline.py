"""The engine's facade for the web apps: photos and sketches in, trunk maps and vectors out.

Create one :class:`Engine` per process (see :func:`get_engine`) and share it between threads:
inference runs under ``torch.inference_mode`` on modules in eval mode and mutates nothing.

Vectors are computed from the float16-rounded trunk maps that callers store, so that
re-embedding a library from its feature cache with the same head gives the very same vectors
as embedding the photos did.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .device import resolve_device
from .edges import EDGE_METHODS, edge_maps
from .efficientnet import images_to_tensor
from .encoder import binary_maps_to_tensor
from .errors import ModelNotReadyError, SketchError
from .heads import (
    DEFAULT_HEAD_PATH,
    LEGACY_TRUNK,
    load_head,
    read_head,
    save_head,
)
from .hed import HEDNet
from .model import build_trunk, pooled_features
from .model import head_vectors as model_head_vectors
from .preprocess import sketch_image_to_map
from .strokes import rasterize_strokes
from .trunks import square_photo, trunk_spec
from .weights import load_backbone_checkpoint

__all__ = [
    "Engine",
    "EngineConfig",
    "FeatureExtractor",
    "PhotoEmbedding",
    "SketchEmbedding",
    "get_engine",
    "load_head",
    "save_head",
]

# Bump when preprocessing changes what the network sees: it is part of model_version, so
# indexes built before the change are recognised as stale.
PREPROCESS_VERSION = 1
# "fp32" (default), "channels_last" (same arithmetic, NHWC layout), "bf16" (autocast).
PRECISIONS = ("fp32", "channels_last", "bf16")


@dataclass(frozen=True)
class EngineConfig:
    model_dir: Path  # where vgg16_hed.pt lives (converted weights; the VGG trunk only)
    head_path: Path | None = None  # head checkpoint; None -> engine/assets/general_head.pt
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    edge_method: str | None = None  # edge trunks: "hed" | "canny"; None -> the head's record
    batch_size: int = 16
    # A query sketch's vector is the normalised mean of the sketch's and its mirror image's
    # (objects are drawn facing either way): +0.01 mAP on the model-selection split for a
    # second trunk pass in the same batch (docs/results.md).
    mirror_queries: bool = True


@dataclass(frozen=True)
class PhotoEmbedding:
    edge_map: np.ndarray | None  # uint8 (256,256), 0 = edge; None when the trunk takes RGB
    features: np.ndarray  # float16 trunk map, e.g. (208,8,8) or VGG conv5 (512,8,8)
    vector: np.ndarray  # float32 (512,) general descriptor


@dataclass(frozen=True)
class SketchEmbedding:
    sketch_map: np.ndarray  # uint8 (256,256), 0 = ink
    features: np.ndarray  # float16 trunk map
    vector: np.ndarray  # float32 (512,)


def _head_missing_message(path: Path) -> str:
    return (
        f"The general head {path} does not exist yet. Train one with "
        f"`python -m retrieval.lab train --data DIR --out {path}`."
    )


class FeatureExtractor:
    """The frozen trunk (and, for edge trunks, edge detection), without a head.

    ``photo_inputs`` turns RGB photos into what the trunk takes (square RGB, or binary edge
    maps); ``features`` runs the trunk on such inputs or on binary sketch maps.
    """

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        trunk: str = LEGACY_TRUNK,
        device: str = "auto",
        edge_method: str = "hed",
        batch_size: int = 16,
        precision: str = "fp32",
    ) -> None:
        self.spec = trunk_spec(trunk)
        if edge_method not in EDGE_METHODS:
            raise ValueError(f"edge_method must be one of {EDGE_METHODS}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        self.device = resolve_device(device)
        self.precision = precision
        self.trunk = trunk
        self.uses_edges = self.spec.photo_input == "edges"
        self.edge_method = edge_method if self.uses_edges else None
        self.batch_size = batch_size
        self.hed: HEDNet | None = None
        backbone = None
        if self.uses_edges:
            if model_dir is None:
                raise ValueError("the VGG-16 trunk needs model_dir (converted weights)")
            # One read of the converted VGG weights for the trunk and HED alike.
            backbone = load_backbone_checkpoint(Path(model_dir))["state_dict"]
            if edge_method == "hed":
                self.hed = HEDNet.from_state_dict(backbone).to(self.device)
        self.network = build_trunk(trunk, backbone=backbone).to(self.device)
        self._memory_format = torch.contiguous_format
        # EfficientNet trunks always run NHWC: the same fp32 arithmetic, measured 2x faster
        # on this CPU (a batch of 16: 50-60 ms an image instead of 120).
        if precision == "channels_last" or not self.uses_edges:
            self._memory_format = torch.channels_last
            self.network.to(memory_format=torch.channels_last)
            if self.hed is not None:
                self.hed.to(memory_format=torch.channels_last)

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        return self.spec.feature_shape

    def _autocast(self) -> contextlib.AbstractContextManager:
        # bf16 autocast: convolutions in bfloat16, accumulation and outputs back in float32.
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def photo_inputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 photos -> trunk inputs: square 256x256 RGB, or binary edge maps."""
        if self.uses_edges:
            return self.edge_maps(images)
        return [square_photo(_as_rgb(im)) for im in images]

    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 photos -> binary 256x256 edge maps (0 = edge), batched."""
        images = [_as_rgb(im) for im in images]
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            with self._autocast():
                out += edge_maps(
                    chunk,
                    method=self.edge_method or "canny",
                    net=self.hed,
                    device=self.device,
                    memory_format=self._memory_format,
                )
        return out

    def _to_tensor(self, inputs: list[np.ndarray] | np.ndarray) -> torch.Tensor:
        if self.uses_edges:
            return binary_maps_to_tensor(inputs)
        return images_to_tensor(inputs)

    def features(self, inputs: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Trunk inputs (binary maps, or RGB photos for RGB trunks) -> float16 (N, C, 8, 8)."""
        if len(inputs) == 0:
            return np.zeros((0, *self.feature_shape), np.float16)
        feats = []
        for start in range(0, len(inputs), self.batch_size):
            x = self._to_tensor(inputs[start : start + self.batch_size]).to(self.device)
            x = x.contiguous(memory_format=self._memory_format)
            with torch.inference_mode(), self._autocast():
                f = self.network.forward_features(x)
            feats.append(f.float().to(torch.float16).contiguous().cpu().numpy())
        return np.concatenate(feats)

    def version(self) -> str:
        """Short hash of the trunk (+ HED) weights, photo input and preprocessing."""
        return _model_version([self.network, self.hed], self.input_tag())

    def input_tag(self) -> str:
        # Old VGG versions hashed the bare edge method; keep them, so old caches stay valid.
        return self.edge_method if self.uses_edges else f"{self.trunk}:rgb"


class Engine:
    """Embeds photos and sketches with the general model (trunk + general head)."""

    model_version: str

    def __init__(self, config: EngineConfig) -> None:
        if config.edge_method is not None and config.edge_method not in EDGE_METHODS:
            raise ValueError(f"edge_method must be one of {EDGE_METHODS}")
        self.config = config
        head_path = Path(config.head_path) if config.head_path else DEFAULT_HEAD_PATH
        if not head_path.is_file():
            raise ModelNotReadyError(_head_missing_message(head_path))
        head, metadata = read_head(head_path)
        self.trunk = metadata["trunk"]
        # FeatureExtractor validates it (a head's record included).
        edge_method = config.edge_method or metadata.get("edge_method") or "hed"
        self.extractor = FeatureExtractor(
            model_dir=Path(config.model_dir),
            trunk=self.trunk,
            device=config.device,
            edge_method=edge_method,
            batch_size=config.batch_size,
        )
        self.edge_method = self.extractor.edge_method
        self.device = self.extractor.device
        self._head = head.to(self.device).eval()
        self.head_path = head_path
        self.head_metadata = metadata
        extractor = self.extractor
        self.model_version = _model_version(
            [extractor.network, extractor.hed, self._head], extractor.input_tag()
        )

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        return self.extractor.feature_shape

    # --- photos ----------------------------------------------------------------------------
    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 photos -> binary 256x256 edge maps (0 = edge), batched."""
        return self.extractor.edge_maps(images)

    def embed_photos(self, images: list[np.ndarray]) -> list[PhotoEmbedding]:
        """RGB uint8 (H, W, 3) photos -> trunk map, general vector (and edge map) each."""
        inputs = self.extractor.photo_inputs(images)
        features = self.extractor.features(inputs)
        vectors = self.head_vectors(features)
        edge_maps = inputs if self.extractor.uses_edges else [None] * len(inputs)
        return [
            PhotoEmbedding(edge_map=m, features=f, vector=v)
            for m, f, v in zip(edge_maps, features, vectors, strict=True)
        ]

    # --- sketches --------------------------------------------------------------------------
    def embed_sketch_image(self, image: np.ndarray) -> SketchEmbedding:
        """A drawn sketch as an RGB or gray uint8 image (dark lines on white)."""
        return self._embed_sketch_map(sketch_image_to_map(image))

    def embed_sketch_strokes(self, payload: dict) -> SketchEmbedding:
        """A canvas stroke payload (see :mod:`.strokes`); raises :class:`SketchError`."""
        return self._embed_sketch_map(rasterize_strokes(payload))

    def _embed_sketch_map(self, sketch_map: np.ndarray) -> SketchEmbedding:
        if not (sketch_map == 0).any():
            raise SketchError("The sketch is empty: draw something first.")
        if not self.config.mirror_queries:
            features, vectors = self.embed_binary_maps([sketch_map])
            return SketchEmbedding(sketch_map=sketch_map, features=features[0], vector=vectors[0])
        features, vectors = self.embed_binary_maps(
            [sketch_map, np.ascontiguousarray(sketch_map[:, ::-1])]
        )
        # The stored query map (personal re-scoring, feedback) stays the sketch as drawn.
        return SketchEmbedding(
            sketch_map=sketch_map, features=features[0], vector=mirror_mean(vectors[0], vectors[1])
        )

    # --- shared ----------------------------------------------------------------------------
    def embed_binary_maps(self, maps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Binary 256x256 maps -> (float16 trunk maps, float32 (N,512) vectors)."""
        features = self.extractor.features(maps)
        return features, self.head_vectors(features)

    def head_vectors(self, features: np.ndarray, head: torch.nn.Module | None = None) -> np.ndarray:
        """(N, C, 8, 8) trunk maps -> (N,512) float32 with ``head`` (default: general head)."""
        return model_head_vectors(
            head if head is not None else self._head, features, device=self.device
        )

    @property
    def general_head(self) -> torch.nn.Module:
        return self._head

    @property
    def has_pooled_features(self) -> bool:
        """Whether the general head has a pooled stage before its projection (EfficientNet:
        GeM-pooled 1280-d), which personal projection heads share."""
        return hasattr(self._head, "pooled")

    def pooled_features(self, features: np.ndarray) -> np.ndarray:
        """(N, C, 8, 8) trunk maps -> float16 (N, 1280) pooled features of the general head
        (everything before its ``fc``): what a personal projection head re-scores from, at
        2.5 KiB a photo instead of a 26 KiB map."""
        if not self.has_pooled_features:
            raise ValueError("this general head has no pooled features (conv6 head)")
        pooled = pooled_features(self._head, features, self.device, batch=256)
        return pooled.float().cpu().numpy().astype(np.float16)

    @torch.no_grad()
    def vectors_from_pooled(self, pooled: np.ndarray) -> np.ndarray:
        """(N, 1280) pooled features -> (N, 512) float32 general vectors (the head's ``fc``
        and L2 normalisation only): rebuilding a library's vectors without the head."""
        features = torch.as_tensor(np.asarray(pooled), dtype=torch.float32).to(self.device)
        return self._head.project(features).float().cpu().numpy()


def mirror_mean(vector: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The unit vector of a query and its mirror image, averaged (float32, same shape)."""
    total = np.asarray(vector, np.float32) + np.asarray(mirrored, np.float32)
    norm = np.linalg.norm(total, axis=-1, keepdims=True)
    return (total / np.maximum(norm, 1e-12)).astype(np.float32)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError("photos must be uint8 arrays")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"photos must be (H, W, 3) RGB arrays, got shape {image.shape}")


def _model_version(modules: list[torch.nn.Module | None], input_tag: str) -> str:
    """``g<preprocess version>-<8 hex>``: a hash of every weight that shapes a vector."""
    digest = hashlib.sha256(f"{input_tag}:{PREPROCESS_VERSION}".encode())
    for module in modules:
        if module is None:
            continue
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"g{PREPROCESS_VERSION}-{digest.hexdigest()[:8]}"


_ENGINES: dict[EngineConfig, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(config: EngineConfig) -> Engine:
    """The process-wide :class:`Engine` for ``config``, created on first use (thread-safe)."""
    engine = _ENGINES.get(config)
    if engine is None:
        with _ENGINES_LOCK:
            engine = _ENGINES.get(config)
            if engine is None:
                engine = _ENGINES[config] = Engine(config)
    return engine


def clear_engines() -> None:
    """Forget cached engines (after a head file was replaced, and in tests)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()


def describe(engine: Engine) -> dict[str, Any]:
    return {
        "model_version": engine.model_version,
        "device": str(engine.device),
        "trunk": engine.trunk,
        "edge_method": engine.edge_method,
        "head_path": str(engine.head_path),
    }
