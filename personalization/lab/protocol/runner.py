"""The paper's experiments (section V) in one run: Table 2, Fig. 12, Table 3, Fig. 13, and a
feedback-rounds curve against relevance-feedback baselines.

    python -m personalization.lab protocol --data DIR --out RESULTS_DIR [--seed N]
        [--general-checkpoint PATH | --train-general] [--quick] [--per-category K] ...

(also ``python manage.py evaluate`` with the same options; both are
:mod:`personalization.lab.jobs.protocol`). Writes ``RESULTS_DIR/report.json`` and the plots
``pr_general.png``, ``pr_finegrained.png``, ``table3.png``, ``w_sweep.png``,
``feedback_rounds.png``.

Stages (see :mod:`.data`, :mod:`.general`, :mod:`.personal`):

1. data: the folder (plain layout, or a photo library with ``manifest.csv``), the seeded
   7:3 split of the query sketches of each category, the items each stage uses;
2. trunk maps of those items (the general head's trunk, read from its checkpoint), read
   from / added to the shared cache (``--cache-dir``);
3. the general model: ``--general-checkpoint`` (default: the shipped EfficientNet-Lite2
   head) or ``--train-general`` (conv6 on cached VGG conv5 maps, for the paper's trunk and
   ``--quick``); the report records which, with its metadata and a weight hash;
4. general retrieval of the test queries over the gallery: mAP, P@10, P@100, P-R, for the
   general model, the untrained trunk and HOG on edge maps;
5. personalization: simulated users, personal heads (``--head-scope``: the product's
   projection or the paper's whole head), Table 3, the w sweep (calibrated eq. 18), and
   feedback rounds where the product's ranking (head + memory term) and each of its parts
   are measured against Rocchio and 1-NN re-ranking (``report["rounds"]``).

Defaults are the paper's settings (100 positives per sketch, 20 fine-tuning rounds). On a
CPU they take hours for sketchy-mini's 40 users; ``--per-branch``, ``--finetune-rounds``,
``--feedback-rounds``, ``--rounds-users`` and ``--candidates`` trade fidelity for time and
are recorded in the report. ``--quick`` is a smoke run: a weight-free conv5 stand-in
(:class:`.features.GridExtractor`, no VGG pass at all), a general head trained here,
and tiny fine-tuning; its figures say nothing about the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from personalization.engine.closeness import CALIBRATION_PATH, ClosenessRule, load_rules
from personalization.lab.closeness_calibration import measure_bands
from personalization.lab.protocol.data import Selection, load_dataset, select
from personalization.lab.protocol.features import GridExtractor
from personalization.lab.protocol.general import (
    GeneralModel,
    general_stage,
    head_fingerprint,
    head_vectors_of,
    hog_vectors,
    load_general,
    train_general,
    untrained_vectors,
)
from personalization.lab.protocol.metrics import nanmean
from personalization.lab.protocol.personal import (
    Gallery,
    PersonalConfig,
    personalization_stage,
    rounds_order,
    user_tasks,
)
from personalization.lab.protocol.report import (
    PAPER,
    StageTimer,
    code_version,
    machine,
    plot_finegrained,
    plot_general,
    plot_rounds,
    plot_table3,
    plot_w_sweep,
    write_json,
)
from retrieval.engine.device import resolve_device
from retrieval.engine.heads import DEFAULT_HEAD_PATH, bootstrap_conv6_head, head_metadata
from retrieval.engine.pipeline import FeatureExtractor, _model_version, mirror_mean
from retrieval.engine.query_expansion import DEFAULT_NEIGHBOURS
from retrieval.engine.trunks import trunk_spec
from retrieval.engine.weights import default_model_dir
from retrieval.lab.cache import DEFAULT_CACHE_DIR
from retrieval.lab.evaluation import asked_queries
from retrieval.lab.featurize import dataset_features, mirrored_sketch_features
from retrieval.lab.training.conv6_recipes import RecipeConfig

# 3: general queries expanded as search serves them; 4: sketches averaged with their mirror
# image as search asks them, feedback rounds of mixed-subject users (residual, off topic)
PROTOCOL_VERSION = 4
# The edge method of an edge-input trunk (VGG-16) when neither the option nor the head's
# metadata names one: the one the shared conv5 cache of sketchy-mini is filled with.
DEFAULT_EDGE_METHOD = "canny"
METHOD_NAMES = {
    "general": "general model (trained head)",
    "untrained": "untrained trunk map, max-pooled",
    "hog": "HOG on edge maps",
}
QUICK = {
    "per_branch": 4,
    "finetune_rounds": 3,
    "feedback_rounds": 2,
    "general_epochs": 4,
}


@dataclass(frozen=True)
class ProtocolConfig:
    data: Path
    out: Path
    seed: int = 0
    general_checkpoint: Path | None = None  # None: the shipped head (unless train_general)
    train_general: bool = False
    quick: bool = False
    per_category: int | None = None
    min_subcategory_photos: int = 1
    edge_method: str | None = None
    model_dir: Path | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    device: str = "auto"
    general_recipe: str = "nce_cls"
    head_scope: str = "auto"  # personal heads: auto | projection | full (see head_scope)
    # General query vectors expanded with their k nearest gallery photos, as search serves
    # them (retrieval.engine.query_expansion; 0: the plain sketch vectors).
    query_expansion: int = DEFAULT_NEIGHBOURS
    mirror_queries: bool = True  # sketches averaged with their mirror image (search does)
    general_epochs: int = RecipeConfig().epochs
    hog: bool = True
    personalization: bool = True
    personal: PersonalConfig = field(default_factory=PersonalConfig)
    progress: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def make_extractor(config: ProtocolConfig, checkpoint: Path | None):
    if config.quick:
        return GridExtractor()
    metadata = head_metadata(checkpoint) if checkpoint is not None else {}
    trunk = metadata.get("trunk") or "vgg16_hed"
    edge_method = DEFAULT_EDGE_METHOD  # not read by an RGB trunk
    if trunk_spec(trunk).photo_input == "edges":
        edge_method = config.edge_method or metadata.get("edge_method") or DEFAULT_EDGE_METHOD
    return FeatureExtractor(
        trunk=trunk,
        model_dir=Path(config.model_dir or default_model_dir()),
        device=config.device,
        edge_method=edge_method,
    )


def head_scope(requested: str, general_head: torch.nn.Module) -> str:
    """``auto``: the product's projection on EfficientNet heads, the paper's full head else."""
    if requested != "auto":
        return requested
    return "projection" if hasattr(general_head, "pooled") else "full"


def _query_self(sel: Selection, gallery: np.ndarray) -> np.ndarray:
    """Per query (all of the selection's), its own position in ``gallery``, else -1."""
    if sel.query_kind == "sketch":
        return np.full(sel.n_queries, -1, np.int64)
    position = {int(p): i for i, p in enumerate(gallery.tolist())}
    return np.array([position.get(q, -1) for q in range(sel.n_queries)], np.int64)


def run_protocol(config: ProtocolConfig) -> dict:
    """Run every stage; writes report.json and the plots into ``config.out``; returns the report."""
    timer = StageTimer()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)

    with timer.stage("data"):
        full, layout = load_dataset(config.data)
        sel = select(
            full,
            layout,
            seed=config.seed,
            per_category=config.per_category,
            min_subcategory_photos=config.min_subcategory_photos,
        )
        if not len(sel.general_queries):
            raise ValueError("no test query: every category needs at least 2 query sketches")
        checkpoint = None
        if not config.train_general:
            checkpoint = Path(config.general_checkpoint or DEFAULT_HEAD_PATH)
            if not checkpoint.is_file():
                raise FileNotFoundError(f"no general head at {checkpoint}")
        extractor = make_extractor(config, checkpoint)

    with timer.stage("features"):
        photo_maps, sketch_maps = dataset_features(
            sel.dataset, extractor, config.cache_dir, progress=config.progress
        )
        query_maps = sketch_maps if sel.query_kind == "sketch" else photo_maps

    with timer.stage("general_model"):
        model = _general_model(config, sel, checkpoint, photo_maps, sketch_maps, device)

    general_photo_vecs = head_vectors_of(model.head, photo_maps)
    general_query_vecs = head_vectors_of(model.head, query_maps)
    if sel.query_kind == "sketch" and config.mirror_queries:
        # As search asks a sketch: averaged with its mirror image.
        with timer.stage("mirrored_features"):
            mirrored = mirrored_sketch_features(
                sel.dataset, extractor, config.cache_dir, progress=config.progress
            )
        general_query_vecs = mirror_mean(general_query_vecs, head_vectors_of(model.head, mirrored))
    gallery = Gallery(
        photo_ids=sel.personal_photos,
        parents=np.array([p.category for p in sel.dataset.photos], dtype=object),
        subs=np.array([p.subcategory for p in sel.dataset.photos], dtype=object),
        photo_maps=photo_maps,
        general_photos=general_photo_vecs,
        query_maps=query_maps,
        general_queries=_asked(general_query_vecs, general_photo_vecs[sel.personal_photos], config),
        query_parent=np.array([sel.query_category(i) for i in range(sel.n_queries)], dtype=object),
        query_is_test=sel.query_is_test,
        query_self=_query_self(sel, sel.personal_photos),
    )
    gallery.general_head = model.head
    scope = head_scope(config.head_scope, model.head)
    personal_cfg = replace(
        config.personal,
        device=str(device),
        seed=config.seed,
        finetune=replace(config.personal.finetune, scope=scope),
    )
    tasks, _ = user_tasks(gallery, sel.parents) if config.personalization else ([], {})
    query_kind = "sketch" if sel.query_kind == "sketch" else "photo"
    rule, rule_source = (
        _closeness_rule(extractor, model, gallery, query_kind, config)
        if config.personalization
        else (None, "not needed")
    )
    n_users = len(tasks) // 2
    if personal_cfg.rounds_users > 0:
        n_users = min(n_users, personal_cfg.rounds_users)
    round_steps = n_users * personal_cfg.feedback_rounds
    table3_tasks = len(rounds_order(tasks, personal_cfg.table3_users))
    bar = tqdm(total=3 + table3_tasks + round_steps, desc="protocol", disable=not config.progress)

    with timer.stage("general_eval"):
        general = _general_eval(
            config,
            sel,
            model,
            general_photo_vecs,
            general_query_vecs,
            photo_maps,
            query_maps,
            bar,
            timer,
        )
        _split_by_holdout(general, model.info)
        plot_general(general, out / "pr_general.png", METHOD_NAMES)

    with timer.stage("personalization"):

        def tick(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        if config.personalization:
            personal = personalization_stage(
                gallery,
                sel.parents,
                personal_cfg,
                rule=rule,
                query_kind=query_kind,
                on_task=tick,
            )
            personal["closeness_rule"] = {
                "source": rule_source,
                **(rule.to_dict() if rule is not None else {}),
            }
        else:
            personal = {"skipped": "--no-personalization"}
        plots = _personal_plots(personal, out)
    bar.close()

    report = {
        "protocol_version": PROTOCOL_VERSION,
        "dataset": {"path": str(Path(config.data).resolve()), **sel.describe()},
        "seed": config.seed,
        "split": {
            "method": "seeded 7:3 per category of the query sketches (splits.sketch_split)",
            "test_queries_loaded": int(sel.query_is_test.sum()),
            "train_queries_loaded": int((~sel.query_is_test).sum()),
        },
        "config": config.as_dict(),
        "models": {
            "extractor": {
                "kind": "grid stand-in (--quick)" if config.quick else extractor.trunk,
                "version": extractor.version(),
                "edge_method": extractor.edge_method,
            },
            "general": model.info,
            "personal_head_scope": scope,
        },
        "machine": machine(device),
        "code": code_version(),
        "general": {
            "methods": general,
            "names": METHOD_NAMES,
            "plot": "pr_general.png",
        },
        "personalization": {**personal, "plots": plots},
        "rounds": rounds_points(personal),
        "paper": PAPER,
        "stages_seconds": timer.seconds,
        "wall_seconds": timer.total(),
    }
    write_json(out / "report.json", report)
    return report


def rounds_points(personal: dict) -> list[dict]:
    """The rounds curve as ``[{"round", "product", "general", "rocchio", "one_nn", "head",
    "residual": {...}, "off_topic": {"product", "general", "retention"}, ...}, ...]``: on-topic
    mAP of mixed-subject users (whole gallery, and residual collection), off-topic category
    mAP and retention (:mod:`.mixed`)."""
    curve = (personal.get("rounds") or {}).get("curve") or []
    return [dict(point) for point in curve]


def _general_model(config, sel, checkpoint, photo_maps, sketch_maps, device) -> GeneralModel:
    if checkpoint is not None:
        return load_general(checkpoint, seed=config.seed)
    if config.quick and sel.query_kind != "sketch":
        # A photo library has no sketches to train on; a smoke run still needs some head.
        head = bootstrap_conv6_head()
        return GeneralModel(
            head=head,
            info={
                "source": "bootstrap (no sketches to train on)",
                "weights_sha256": head_fingerprint(head),
            },
        )
    recipe = RecipeConfig(
        recipe=config.general_recipe, epochs=config.general_epochs, seed=config.seed
    )
    return train_general(
        sel, photo_maps, sketch_maps, config=recipe, device=device, progress=config.progress
    )


def _closeness_rule(
    extractor, model: GeneralModel, gallery: Gallery, query_kind: str, config: ProtocolConfig
) -> tuple[ClosenessRule | None, str]:
    """The rule search serves for this general model (shipped, by model version), else one
    measured here on the training queries of the protocol's own split (never a test one)."""
    network = getattr(extractor, "network", None)
    if network is not None:
        version = _model_version(
            [network, getattr(extractor, "hed", None), model.head], extractor.input_tag()
        )
        shipped = load_rules().get(version)
        if shipped is not None:
            return shipped, f"shipped rule of model {version} ({CALIBRATION_PATH.name})"
    train = np.flatnonzero(~gallery.query_is_test)
    if not len(train):
        return None, "no training query to measure a rule on"
    bands, measured = measure_bands(
        {query_kind: gallery.general_queries[train]},
        {query_kind: gallery.query_parent[train]},
        seed=config.seed,
    )
    if not bands:
        return None, "too few training queries to measure a rule on"
    return (
        ClosenessRule(bands=bands, head="protocol", measured=measured),
        "measured on this run's training queries",
    )


def _asked(queries: np.ndarray, gallery: np.ndarray, config: ProtocolConfig) -> np.ndarray:
    """General query vectors as search asks them (sketches already averaged with their
    mirror image): expanded with their nearest gallery photos."""
    return asked_queries(queries, gallery, query_expansion=max(0, config.query_expansion))


def _general_eval(config, sel, model, photo_vecs, query_vecs, photo_maps, query_maps, bar, timer):
    gp, gq = sel.general_photos, sel.general_queries
    photo_vectors = {"general": photo_vecs[gp]}
    query_vectors = {"general": _asked(query_vecs[gq], photo_vecs[gp], config)}
    bar.update(1)
    photo_vectors["untrained"] = untrained_vectors(photo_maps[gp])
    query_vectors["untrained"] = untrained_vectors(query_maps[gq])
    bar.update(1)
    if config.hog:
        with timer.stage("hog"):
            photo_vectors["hog"], query_vectors["hog"] = hog_vectors(sel)
    bar.update(1)
    own = _query_self(sel, gp)[gq]
    return general_stage(
        sel,
        photo_vectors=photo_vectors,
        query_vectors=query_vectors,
        exclude=own if (own >= 0).any() else None,
    )


def _split_by_holdout(general: dict, info: dict) -> None:
    """Per method, the category mAP over the categories the head never trained on, and the
    rest (when the checkpoint's metadata lists held-out categories)."""
    held = set((info.get("trained_on") or {}).get("holdout_categories") or [])
    if not held:
        return
    for result in general.values():
        per_cat = result["per_category_ap"]
        result["map_by_category_heldout"] = nanmean(v for c, v in per_cat.items() if c in held)
        result["map_by_category_trained"] = nanmean(v for c, v in per_cat.items() if c not in held)


def _personal_plots(personal: dict, out: Path) -> list[str]:
    if personal.get("skipped"):
        return []
    plot_table3(personal["table3"], out / "table3.png")
    plot_finegrained(personal["pr_curves"], out / "pr_finegrained.png")
    plot_w_sweep(personal["w_sweep"], out / "w_sweep.png")
    plots = ["table3.png", "pr_finegrained.png", "w_sweep.png"]
    if personal["rounds"]["curve"]:
        plot_rounds(personal["rounds"]["curve"], out / "feedback_rounds.png")
        plots.append("feedback_rounds.png")
    return plots
