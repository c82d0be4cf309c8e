"""Fixtures of the personalization tests.

pz_dirs         (autouse) models, conv5 caches and indexes in a temp folder; caches cleared
closeness_rule  (autouse) the shipped closeness rule, also for the factories' model version
fast_training   small eq. 9 sets and few rounds, so a training run takes a second or two
run_on_commit   django_capture_on_commit_callbacks(execute=True), shorter
world           tenant A's member with a labelled synthetic library and 6 marked sketches
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from personalization import head_files
from personalization.lab.synthetic import SyntheticLibrary, general_head
from retrieval import index_store
from retrieval.engine.model import head_vectors
from tests.personalization import factories
from tests.retrieval.conftest import fake_engine, indexed_library, make_library  # noqa: F401


@pytest.fixture(autouse=True)
def pz_dirs(settings: Any, tmp_path: Any) -> Iterator[Any]:
    settings.PSBIR_MODEL_DIR = tmp_path / "models"
    settings.PSBIR_FEATURE_DIR = tmp_path / "features"
    settings.PSBIR_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PSBIR_DEVICE = "cpu"
    torch.set_num_threads(1)
    head_files.clear_cache()
    index_store.clear_process_caches()
    yield tmp_path
    head_files.clear_cache()
    index_store.clear_process_caches()


@pytest.fixture(autouse=True)
def closeness_rule(settings: Any, tmp_path: Any) -> None:
    """The shipped general model's measured closeness rule, registered for the factories'
    model version too (their queries and photos are of that version)."""
    settings.PSBIR_CLOSENESS_FILE = factories.closeness_file(tmp_path, factories.MODEL_VERSION)


@pytest.fixture
def fast_training(settings: Any) -> None:
    settings.PSBIR_PERSONAL_SAMPLES_PER_BRANCH = 4
    settings.PSBIR_PERSONAL_ROUNDS = 4
    settings.PSBIR_PERSONAL_BATCH_SIZE = 64


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    return lambda: django_capture_on_commit_callbacks(execute=True)


@dataclass
class World:
    user: Any
    lib: SyntheticLibrary
    library: Any
    images: list
    queries: list
    results: list  # results[i] = the ranked results of queries[i]


def build_world(user: Any, *, sketches: int = 6, labelled: bool = True, target_sub: int = 0):
    """A library of 3 parents x 3 subs x 4 photos; ``sketches`` sketches of parent 0, each
    searched and its first photo of sub-category ``target_sub`` marked as meant."""
    lib = SyntheticLibrary(parents=3, subs=3, per_sub=4, seed=7)
    library, images = factories.synthetic_library(user.tenant, lib, labelled=labelled)
    gvec = head_vectors(general_head(), lib.photo_maps(np.arange(lib.size)))
    sketch_maps = lib.sketch_maps(0, sketches)
    svec = head_vectors(general_head(), sketch_maps)
    queries, all_results = [], []
    for j in range(sketches):
        order = np.argsort(np.linalg.norm(gvec - svec[j], axis=1), kind="stable")
        ranked = [images[i] for i in order]
        query, results = factories.make_query(user, [library], sketch_maps[j], ranked)
        wanted = next(r for r, i in zip(results, order, strict=True) if lib.sub_of[i] == target_sub)
        factories.mark(user, wanted)
        queries.append(query)
        all_results.append(results)
    return World(user, lib, library, images, queries, all_results)


@pytest.fixture
def world(member_a: Any) -> World:
    return build_world(member_a)
