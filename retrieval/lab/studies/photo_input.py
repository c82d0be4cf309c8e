"""Photos into an RGB trunk as they are, or as edge maps (the paper's III.B), measured.

    python -m retrieval.lab study photo-input --data DIR
        [--trunk efficientnet_lite2] [--holdout-categories 20] [--json PATH]

For the held-out categories of the seeded split (every sketch against their photos, chance
1/N) and, for comparison, the 20 validation categories that model selection uses (seed 1
among the training categories), sketches go through the trunk as the product feeds them and
photos in three ways: the RGB photo (the product), its Canny edge map, its HED + NMS +
hysteresis edge map (section III.B with HED for gPb; one VGG-16 pass a photo). Each is
ranked with the untrained head (the ImageNet layers + GeM + a seeded random projection,
no training at all, so no input is favoured by what a head learnt) and with a head
checkpoint (default: the shipped one, trained on RGB photos), plain nearest neighbours.
Edge maps are binary maps like sketches and take the sketch's path into the trunk.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retrieval.engine.edges import canny_edge_map, hed_edge_maps
from retrieval.engine.heads import DEFAULT_HEAD_PATH, new_head, read_head
from retrieval.engine.hed import HEDNet
from retrieval.engine.model import head_vectors
from retrieval.engine.pipeline import FeatureExtractor
from retrieval.engine.trunks import DEFAULT_TRUNK
from retrieval.engine.weights import default_model_dir, load_backbone_checkpoint
from retrieval.lab.cache import DEFAULT_CACHE_DIR
from retrieval.lab.data import SketchPhotoDataset, read_rgb
from retrieval.lab.evaluation import rank_summary
from retrieval.lab.featurize import dataset_features
from retrieval.lab.splits import holdout_categories


def _categories(
    full: SketchPhotoDataset, holdout: int, seed: int, *, validation: int = 20
) -> dict[str, list[str]]:
    """The held-out categories and the validation draw of ``train --val-categories``."""
    held = holdout_categories(full.categories, holdout, seed=seed)
    seen = [c for c in full.categories if c not in set(held)]
    return {"unseen": held, "validation": holdout_categories(seen, validation, seed=seed + 1)}


def _part(full: SketchPhotoDataset, categories: list[str]) -> SketchPhotoDataset:
    wanted = set(categories)
    return SketchPhotoDataset(
        root=full.root,
        photos=[p for p in full.photos if p.category in wanted],
        sketches=[s for s in full.sketches if s.category in wanted],
        categories=list(full.categories),
    )


def edge_input_maps(
    part: SketchPhotoDataset, extractor: FeatureExtractor, hed: HEDNet, method: str
) -> np.ndarray:
    """Trunk maps of ``part``'s photos as ``method`` edge maps (binary, the sketch path)."""
    out = []
    for start in tqdm(range(0, len(part.photos), 16), desc=f"{method} photos", mininterval=15):
        images = [read_rgb(p.path) for p in part.photos[start : start + 16]]
        if method == "canny":
            maps = [canny_edge_map(im) for im in images]
        else:
            maps = hed_edge_maps(hed, images, device=extractor.device)
        out.append(extractor.features(maps))
    return np.concatenate(out)


def study(
    data: Path,
    *,
    trunk: str = DEFAULT_TRUNK,
    checkpoint: Path = DEFAULT_HEAD_PATH,
    holdout: int = 20,
    seed: int = 0,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> dict:
    full = SketchPhotoDataset.scan(data)
    extractor = FeatureExtractor(model_dir=default_model_dir(), trunk=trunk, batch_size=32)
    hed = HEDNet.from_state_dict(load_backbone_checkpoint(default_model_dir())["state_dict"])
    hed = hed.to(extractor.device).eval()
    trained, metadata = read_head(checkpoint)
    heads = {"untrained": new_head(trunk, seed)}
    if metadata["trunk"] == trunk:
        heads["trained"] = trained
    report: dict = {"trunk": trunk, "checkpoint": str(checkpoint), "splits": {}}
    for split, categories in _categories(full, holdout, seed).items():
        part = _part(full, categories)
        rgb_maps, sketch_maps = dataset_features(part, extractor, cache_dir, progress=False)
        photo_maps = {"rgb": rgb_maps}
        seconds = {}
        for method in ("canny", "hed"):
            started = time.monotonic()
            photo_maps[method] = edge_input_maps(part, extractor, hed, method)
            seconds[method] = round(time.monotonic() - started, 1)
        s_lab = np.array([s.category for s in part.sketches], dtype=object)
        p_lab = np.array([p.category for p in part.photos], dtype=object)
        rows = {}
        for head_name, head in heads.items():
            sketches = head_vectors(head, sketch_maps.astype(np.float16))
            for method, maps in photo_maps.items():
                photos = head_vectors(head, maps.astype(np.float16))
                summary = rank_summary(sketches, s_lab, photos, p_lab)
                rows[f"{head_name} head, photos as {method}"] = {
                    k: round(float(summary[k]), 4) for k in ("map", "p_at_10", "chance")
                }
                print(
                    split,
                    head_name,
                    method,
                    rows[f"{head_name} head, photos as {method}"],
                    file=sys.stderr,
                    flush=True,
                )
        report["splits"][split] = {
            "categories": categories,
            "queries": len(part.sketches),
            "photos": len(part.photos),
            "edge_seconds": seconds,
            "results": rows,
        }
    return report
