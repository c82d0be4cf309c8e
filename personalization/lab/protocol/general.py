"""Stage 1 of the protocol (V.B-C, Table 2, Fig. 12): the general model and two references.

- **general**: the conv6 head (a given checkpoint, the shipped one, or one trained here with
  the engine's recipe on the training sketches' cached conv5 maps);
- **untrained**: conv1-5 as they are, each 512x8x8 map max-pooled to 512-d (Table 1's
  MaxPool6 without conv6): what the network gives before any SBIR training;
- **HOG**: :mod:`retrieval.lab.hog_baseline` on Canny edge maps of the photos and the
  sketch maps, a classical descriptor (Table 2's HOG row).

All three rank the same gallery for the same test queries by Euclidean distance.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from personalization.lab.protocol.data import Selection
from personalization.lab.protocol.metrics import summary
from retrieval.engine.distances import squared_distances
from retrieval.engine.heads import head_metadata, load_head
from retrieval.engine.model import head_vectors
from retrieval.lab.data import SketchPhotoDataset
from retrieval.lab.hog_baseline import hog_descriptors, photo_edge_maps, sketch_maps
from retrieval.lab.metrics import rank, relevance_matrix
from retrieval.lab.training.conv6_recipes import RecipeConfig, train_head
from retrieval.lab.training.general_head import build_train_data


@dataclass
class GeneralModel:
    head: torch.nn.Module  # conv6 or an EfficientNet head
    info: dict = field(default_factory=dict)  # what the report records about it


def head_fingerprint(head: torch.nn.Module) -> str:
    """First 12 hex digits of a sha256 over the head's weights."""
    digest = hashlib.sha256()
    for name, tensor in head.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def load_general(path: Path, *, seed: int) -> GeneralModel:
    """A checkpointed head; the report notes when it was trained on another split."""
    path = Path(path)
    head = load_head(path)
    metadata = head_metadata(path)
    trained_on = metadata.get("trained_on") or {}
    info = {
        "source": "checkpoint",
        "path": str(path),
        "kind": metadata.get("kind"),
        "trained": metadata.get("trained", metadata.get("kind") != "bootstrap"),
        "trunk": metadata.get("trunk"),
        "edge_method": metadata.get("edge_method"),
        "recipe": metadata.get("recipe"),
        "trained_on": trained_on,
        "weights_sha256": head_fingerprint(head),
    }
    if "seed" in trained_on and int(trained_on["seed"]) != seed:
        info["warning"] = (
            f"the head was trained with split seed {trained_on['seed']}, this run tests on the "
            f"split of seed {seed}: some test sketches may have been training sketches"
        )
    return GeneralModel(head=head, info=info)


def train_general(
    sel: Selection,
    photo_feats: np.ndarray,
    sketch_feats: np.ndarray,
    *,
    config: RecipeConfig,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> GeneralModel:
    """Train conv6 on the general stage's training sketches and gallery photos."""
    if sel.query_kind != "sketch" or not len(sel.train_queries):
        raise ValueError("training a general model needs training sketches")
    started = time.monotonic()
    d = sel.dataset
    sub = SketchPhotoDataset(
        root=d.root,
        photos=[d.photos[i] for i in sel.general_photos],
        sketches=[d.sketches[i] for i in sel.train_queries],
        categories=list(d.categories),
    )
    data = build_train_data(sub, photo_feats[sel.general_photos], sketch_feats[sel.train_queries])
    head = train_head(data, config, device=device, progress=progress).cpu().eval()
    return GeneralModel(
        head=head,
        info={
            "source": "trained",
            "recipe": config.as_dict(),
            "trained_on": {"photos": len(sub.photos), "sketches": len(sub.sketches)},
            "seconds": round(time.monotonic() - started, 1),
            "weights_sha256": head_fingerprint(head),
        },
    )


def untrained_vectors(maps: np.ndarray) -> np.ndarray:
    """Trunk maps (N, C, 8, 8) -> (N, C) global max-pool (no head)."""
    maps = np.asarray(maps)
    channels = maps.shape[1] if maps.ndim == 4 else 512
    if not len(maps):
        return np.zeros((0, channels), np.float32)
    return maps.reshape(len(maps), channels, -1).max(axis=2).astype(np.float32)


def query_maps_for_hog(sel: Selection, queries: np.ndarray) -> list[np.ndarray]:
    if sel.query_kind == "sketch":
        return sketch_maps(sel.dataset, queries)
    return photo_edge_maps(sel.dataset, queries)


def general_stage(
    sel: Selection,
    *,
    photo_vectors: dict[str, np.ndarray],
    query_vectors: dict[str, np.ndarray],
    exclude: np.ndarray | None,
) -> dict:
    """Per method, the :func:`summary` of its ranking of the general gallery.

    ``photo_vectors[m]`` is aligned with ``sel.general_photos``, ``query_vectors[m]`` with
    ``sel.general_queries``; ``exclude`` gives each query's own gallery position (photo
    queries) or is None.
    """
    d = sel.dataset
    gallery_labels = [d.photos[i].category for i in sel.general_photos]
    query_labels = [sel.query_category(i) for i in sel.general_queries]
    out = {}
    for method, photos in photo_vectors.items():
        ranked = rank(squared_distances(query_vectors[method], photos), exclude)
        out[method] = summary(relevance_matrix(ranked, query_labels, gallery_labels), query_labels)
    return out


def hog_vectors(sel: Selection) -> tuple[np.ndarray, np.ndarray]:
    """(gallery HOG, query HOG) of the general stage."""
    photos = hog_descriptors(photo_edge_maps(sel.dataset, sel.general_photos))
    queries = hog_descriptors(query_maps_for_hog(sel, sel.general_queries))
    return photos, queries


def head_vectors_of(head: torch.nn.Module, maps: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return head_vectors(head.eval(), maps)
