"""retrieval.selectors.cached_trunk_maps: the candidates' trunk maps a personal head re-scores,
read for one tenant and one model version (and cached_pooled_features, what a projection
head re-scores from)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import index_store
from retrieval.selectors import cached_pooled_features, cached_trunk_maps
from tests.personalization import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_dirs(settings, tmp_path):
    settings.PSBIR_FEATURE_DIR = tmp_path / "features"
    settings.PSBIR_INDEX_DIR = tmp_path / "indexes"
    index_store.clear_process_caches()
    yield
    index_store.clear_process_caches()


def _library(tenant, rng, size, version=factories.MODEL_VERSION):
    library = factories.make_library(tenant, version=version)
    maps = (rng.random((size, 512, 8, 8)) * 20).astype(np.float32)
    images = factories.add_images(library, maps, [("c", "s")] * size)
    return np.array([im.pk for im in images], np.int64), maps.astype(np.float16)


def test_maps_in_the_order_asked_across_libraries(tenant_a):
    rng = np.random.default_rng(0)
    ids_1, maps_1 = _library(tenant_a, rng, 3)
    ids_2, maps_2 = _library(tenant_a, rng, 2)
    asked = np.array([ids_2[1], ids_1[0], ids_2[0], ids_1[2]])
    maps, found = cached_trunk_maps(
        tenant_id=tenant_a.pk, model_version=factories.MODEL_VERSION, image_ids=asked
    )
    assert found.all() and maps.dtype == np.float32
    expected = np.stack([maps_2[1], maps_1[0], maps_2[0], maps_1[2]]).astype(np.float32)
    np.testing.assert_array_equal(maps, expected)


def test_another_tenants_photos_and_another_version_are_not_found(tenant_a, tenant_b):
    rng = np.random.default_rng(1)
    mine, my_maps = _library(tenant_a, rng, 2)
    theirs, _ = _library(tenant_b, rng, 2)
    old, _ = _library(tenant_a, rng, 2, version="g1-older")
    asked = np.concatenate([theirs[:1], mine[:1], old[:1], mine[1:]])
    maps, found = cached_trunk_maps(
        tenant_id=tenant_a.pk, model_version=factories.MODEL_VERSION, image_ids=asked
    )
    assert found.tolist() == [False, True, False, True]
    np.testing.assert_array_equal(maps, my_maps.astype(np.float32))


def test_a_photo_without_a_cached_map_is_not_found(tenant_a):
    rng = np.random.default_rng(2)
    ids, _ = _library(tenant_a, rng, 2)
    library = factories.make_library(tenant_a)
    uncached = factories.add_images(
        library, np.zeros((1, 512, 8, 8), np.float32), [("c", "s")], store_features=False
    )
    asked = np.array([uncached[0].pk, ids[0]])
    maps, found = cached_trunk_maps(
        tenant_id=tenant_a.pk, model_version=factories.MODEL_VERSION, image_ids=asked
    )
    assert found.tolist() == [False, True] and maps.shape == (1, 512, 8, 8)
    none, nothing = cached_trunk_maps(
        tenant_id=tenant_a.pk, model_version=factories.MODEL_VERSION, image_ids=asked[:1]
    )
    assert not nothing.any() and len(none) == 0


def test_photos_indexed_before_pooled_features_were_kept_have_none(tenant_a):
    # A library indexed before pooled features were kept: a projection head's search must
    # learn that none is there (and read the trunk maps), not fail (it was a 500).
    ids, _ = _library(tenant_a, np.random.default_rng(3), 2)
    pooled, found = cached_pooled_features(
        tenant_id=tenant_a.pk, model_version=factories.MODEL_VERSION, image_ids=ids
    )
    assert not found.any() and len(pooled) == 0
