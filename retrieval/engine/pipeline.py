"""The engine's facade for the web apps: photos and sketches in, conv5 maps and vectors out.

Create one :class:`Engine` per process (see :func:`get_engine`) and share it between threads:
inference runs under ``torch.inference_mode`` on modules in eval mode and mutates nothing.

Vectors are computed from the float16-rounded conv5 maps that callers store, so that
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
from .encoder import SketchEncoder, binary_maps_to_tensor
from .errors import ModelNotReadyError, SketchError
from .heads import DEFAULT_HEAD_PATH, load_conv6_head, save_conv6_head
from .hed import HEDNet
from .preprocess import sketch_image_to_map
from .strokes import rasterize_strokes
from .weights import load_backbone_checkpoint

__all__ = [
    "Engine",
    "EngineConfig",
    "FeatureExtractor",
    "PhotoEmbedding",
    "SketchEmbedding",
    "get_engine",
    "load_conv6_head",
    "save_conv6_head",
]

# Bump when preprocessing changes what the network sees: it is part of model_version, so
# indexes built before the change are recognised as stale.
PREPROCESS_VERSION = 1
HEAD_CHUNK = 256
# "fp32" (default), "channels_last" (same arithmetic, NHWC layout), "bf16" (autocast).
PRECISIONS = ("fp32", "channels_last", "bf16")


@dataclass(frozen=True)
class EngineConfig:
    model_dir: Path  # where vgg16_hed.pt lives (converted weights)
    head_path: Path | None = None  # conv6 checkpoint; None -> engine/assets/general_head.pt
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    edge_method: str = "hed"  # "hed" | "canny"
    batch_size: int = 8


@dataclass(frozen=True)
class PhotoEmbedding:
    edge_map: np.ndarray  # uint8 (256,256), 0 = edge
    features: np.ndarray  # float16 (512,8,8) conv5 output
    vector: np.ndarray  # float32 (512,) general descriptor


@dataclass(frozen=True)
class SketchEmbedding:
    sketch_map: np.ndarray  # uint8 (256,256), 0 = ink
    features: np.ndarray  # float16 (512,8,8)
    vector: np.ndarray  # float32 (512,)


def _head_missing_message(path: Path) -> str:
    return (
        f"The general conv6 head {path} does not exist yet. Create the untrained starting "
        f"head with `python -m retrieval.engine.bootstrap_head --out {path}`, or train one "
        f"with `python -m retrieval.engine.train --data DIR --out {path}`."
    )


class FeatureExtractor:
    """conv1-5 and edge detection, without a head: what training and caches need."""

    def __init__(
        self,
        *,
        model_dir: Path,
        device: str = "auto",
        edge_method: str = "hed",
        batch_size: int = 8,
        precision: str = "fp32",
    ) -> None:
        if edge_method not in EDGE_METHODS:
            raise ValueError(f"edge_method must be one of {EDGE_METHODS}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        self.device = resolve_device(device)
        self.precision = precision
        self.edge_method = edge_method
        self.batch_size = batch_size
        backbone = load_backbone_checkpoint(Path(model_dir))
        encoder = SketchEncoder()
        encoder.load_backbone(backbone["state_dict"])
        self.encoder = encoder.eval().to(self.device)
        self.hed: HEDNet | None = None
        if edge_method == "hed":
            self.hed = HEDNet.from_state_dict(backbone["state_dict"]).to(self.device)
        self._memory_format = torch.contiguous_format
        if precision == "channels_last":
            self._memory_format = torch.channels_last
            self.encoder.to(memory_format=torch.channels_last)
            if self.hed is not None:
                self.hed.to(memory_format=torch.channels_last)

    def _autocast(self) -> contextlib.AbstractContextManager:
        # bf16 autocast: convolutions in bfloat16, accumulation and outputs back in float32.
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 photos -> binary 256x256 edge maps (0 = edge), batched."""
        images = [_as_rgb(im) for im in images]
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            with self._autocast():
                out += edge_maps(
                    chunk,
                    method=self.edge_method,
                    net=self.hed,
                    device=self.device,
                    memory_format=self._memory_format,
                )
        return out

    def features(self, maps: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Binary 256x256 maps -> float16 (N, 512, 8, 8) conv5 maps."""
        if len(maps) == 0:
            return np.zeros((0, 512, 8, 8), np.float16)
        feats = []
        for start in range(0, len(maps), self.batch_size):
            x = binary_maps_to_tensor(maps[start : start + self.batch_size]).to(self.device)
            x = x.contiguous(memory_format=self._memory_format)
            with torch.inference_mode(), self._autocast():
                f = self.encoder.forward_features(x)
            feats.append(f.float().to(torch.float16).contiguous().cpu().numpy())
        return np.concatenate(feats)

    def version(self) -> str:
        """Short hash of the conv1-5 (+ HED) weights, edge method and preprocessing."""
        return _model_version([self.encoder.features, self.hed], self.edge_method)


class Engine:
    """Embeds photos (via edge maps) and sketches with the general model."""

    model_version: str

    def __init__(self, config: EngineConfig) -> None:
        if config.edge_method not in EDGE_METHODS:
            raise ValueError(f"edge_method must be one of {EDGE_METHODS}")
        self.config = config
        head_path = Path(config.head_path) if config.head_path else DEFAULT_HEAD_PATH
        if not head_path.is_file():
            raise ModelNotReadyError(_head_missing_message(head_path))
        head = load_conv6_head(head_path)
        self.extractor = FeatureExtractor(
            model_dir=Path(config.model_dir),
            device=config.device,
            edge_method=config.edge_method,
            batch_size=config.batch_size,
        )
        self.device = self.extractor.device
        self._head = head.to(self.device).eval()
        self.head_path = head_path
        extractor = self.extractor
        self.model_version = _model_version(
            [extractor.encoder.features, extractor.hed, self._head], config.edge_method
        )

    # --- photos ----------------------------------------------------------------------------
    def edge_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """RGB uint8 photos -> binary 256x256 edge maps (0 = edge), batched."""
        return self.extractor.edge_maps(images)

    def embed_photos(self, images: list[np.ndarray]) -> list[PhotoEmbedding]:
        """RGB uint8 (H, W, 3) photos -> edge map, conv5 features and general vector each."""
        maps = self.edge_maps(images)
        features, vectors = self.embed_binary_maps(maps)
        return [
            PhotoEmbedding(edge_map=m, features=f, vector=v)
            for m, f, v in zip(maps, features, vectors, strict=True)
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
        features, vectors = self.embed_binary_maps([sketch_map])
        return SketchEmbedding(sketch_map=sketch_map, features=features[0], vector=vectors[0])

    # --- shared ----------------------------------------------------------------------------
    def embed_binary_maps(self, maps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Binary 256x256 maps -> (float16 (N,512,8,8) conv5 maps, float32 (N,512) vectors)."""
        features = self.extractor.features(maps)
        return features, self.head_vectors(features)

    def head_vectors(self, features: np.ndarray, head: torch.nn.Module | None = None) -> np.ndarray:
        """(N,512,8,8) conv5 maps -> (N,512) float32 with ``head`` (default: general head)."""
        return head_vectors(features, head if head is not None else self._head, self.device)

    @property
    def general_head(self) -> torch.nn.Module:
        return self._head


def head_vectors(
    features: np.ndarray, head: torch.nn.Module, default_device: torch.device | str = "cpu"
) -> np.ndarray:
    """(N,512,8,8) conv5 maps -> (N,512) float32 through ``head``, in chunks, no grad."""
    array = np.asarray(features)
    if array.ndim != 4 or array.shape[1:] != (512, 8, 8):
        raise ValueError(f"features must be (N, 512, 8, 8), got {array.shape}")
    try:
        device = next(head.parameters()).device
    except StopIteration:
        device = torch.device(default_device)
    out = []
    for start in range(0, len(array), HEAD_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(array[start : start + HEAD_CHUNK]))
        with torch.inference_mode():
            out.append(head(x.to(device=device, dtype=torch.float32)).float().cpu().numpy())
    if not out:
        return np.zeros((0, 512), np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


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


def _model_version(modules: list[torch.nn.Module | None], edge_method: str) -> str:
    """``g<preprocess version>-<8 hex>``: a hash of every weight that shapes a vector."""
    digest = hashlib.sha256(f"{edge_method}:{PREPROCESS_VERSION}".encode())
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
        "edge_method": engine.config.edge_method,
        "head_path": str(engine.head_path),
    }
