"""Fixtures of the retrieval tests: private data folders, the fake engine, libraries.

retrieval_dirs      (autouse) media, indexes and conv5 caches in a temp folder
fake_engine         the process engine replaced by tests.retrieval.fakes.FakeEngine
q_sync              django-q2 runs tasks in-process, at once (``sync``)
run_on_commit       django_capture_on_commit_callbacks(execute=True), shorter
make_library        make_library(tenant, name=None) -> ImageLibrary
indexed_library     tenant A's library of 5 shapes x 2 photos, indexed by the fake engine
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest

from accounts.models import Tenant
from retrieval import engine_runtime, index_store
from retrieval.models import ImageLibrary
from retrieval.services import images as image_services
from retrieval.services import indexing
from retrieval.services.libraries import library_create
from tests.retrieval.fakes import SHAPES, FakeEngine, shape_png

_names = count(1)


@pytest.fixture(autouse=True)
def retrieval_dirs(settings: Any, tmp_path: Any) -> Iterator[Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PSBIR_INDEX_DIR = tmp_path / "indexes"
    settings.PSBIR_FEATURE_DIR = tmp_path / "features"
    index_store.clear_process_caches()
    yield tmp_path
    index_store.clear_process_caches()


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    engine = FakeEngine()
    engine_runtime.set_engine(engine)  # type: ignore[arg-type]
    yield engine
    engine_runtime.set_engine(None)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_library(db: None) -> Callable[..., ImageLibrary]:
    def _make(tenant: Tenant, name: str | None = None) -> ImageLibrary:
        return library_create(tenant=tenant, name=name or f"{tenant.slug} library {next(_names)}")

    return _make


def add_shapes(library: ImageLibrary, shapes: tuple[str, ...] = SHAPES, per_shape: int = 2) -> Any:
    """Store shape photos in ``library`` and index them in-process; returns the import outcome."""
    items = [
        image_services.UploadItem(name=f"{shape}-{i}.png", data=shape_png(shape, seed=i))
        for shape in shapes
        for i in range(per_shape)
    ]
    outcome = image_services.images_import(library=library, items=items, enqueue=False)
    indexing.index_job_run(job_id=outcome.job.pk, tenant_id=library.tenant_id)
    library.refresh_from_db()
    return outcome


@pytest.fixture
def indexed_library(
    make_library: Callable[..., ImageLibrary], tenant_a: Tenant, fake_engine: FakeEngine
) -> ImageLibrary:
    library = make_library(tenant_a, name="Shapes")
    add_shapes(library)
    return library
