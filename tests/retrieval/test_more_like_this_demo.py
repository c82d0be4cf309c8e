"""More like this on the demo library, with the shipped general model, through the services.

The demo library (retrieval/demo_library: public-domain clip art, 12 categories) is imported
and indexed as ``seed_demo`` does, with the real engine; then every photo's "more like this"
must bring a photo of its own category first (the photo itself is left out). The threshold
sits below the share measured with the shipped head (``MEASURED``) and far above chance
(about 1 in 12).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from personalization.services.search import search_run
from retrieval import engine_runtime
from retrieval.models import LibraryImage, SearchResult
from retrieval.services import indexing
from retrieval.services.images import library_import_folder
from retrieval.services.libraries import library_create

DEMO = Path(__file__).resolve().parents[2] / "retrieval" / "demo_library"
# Share of the demo photos whose more-like-this puts their own category at #1, measured
# 2026-12-01 with the shipped EfficientNet-Lite2 head (208 of 299; bug 13/25 the weakest),
# and the share the test holds.
MEASURED, THRESHOLD = 0.70, 0.6


@pytest.mark.slow
@pytest.mark.django_db
def test_more_like_this_on_the_demo_library_finds_the_photos_own_category_first(
    member_a, settings, monkeypatch
):
    settings.PSBIR_DEVICE = "cpu"
    engine_runtime.set_engine(None)  # the real engine, built from settings
    try:
        library = library_create(tenant=member_a.tenant, name="Demo")
        outcome = library_import_folder(
            library=library,
            folder=DEMO / "images",
            labels_csv=DEMO / "manifest.csv",
            enqueue=False,
        )
        indexing.index_job_run(job_id=outcome.job.pk, tenant_id=library.tenant_id)
        library.refresh_from_db()
        photos = list(
            LibraryImage.objects.for_tenant(member_a.tenant_id).filter(
                library=library, status=LibraryImage.Status.INDEXED
            )
        )
        assert len(photos) == library.index_size >= 250
        engine = engine_runtime.get_engine()
        passes: list[int] = []
        trunk = engine.extractor.features
        monkeypatch.setattr(
            engine.extractor, "features", lambda inputs: passes.append(len(inputs)) or trunk(inputs)
        )
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for photo in photos:
            query = search_run(
                user=member_a, libraries=[library], source_image=photo, top_k=5
            ).query
            first = SearchResult.objects.select_related("image").get(query=query, rank=1)
            assert first.image_id != photo.pk
            totals[photo.category] += 1
            hits[photo.category] += first.image.category == photo.category
        assert passes == []  # stored vectors and trunk maps only: no forward pass
    finally:
        engine_runtime.set_engine(None)
    share = sum(hits.values()) / sum(totals.values())
    per_category = {c: f"{hits[c]}/{totals[c]}" for c in sorted(totals)}
    print(f"more like this: own category first for {share:.3f}; {per_category}")
    assert share >= THRESHOLD, per_category
