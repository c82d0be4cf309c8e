"""The orphan sweep deletes old files no row refers to, and nothing else."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from personalization import head_files
from personalization.lab.synthetic import general_head
from retrieval import index_store, orphans
from retrieval.models import LibraryImage
from tests.personalization.factories import make_head

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


@pytest.fixture(autouse=True)
def _faiss_files(settings):
    """Index files are what this sweep is about: libraries keep theirs in FAISS files here,
    whichever store the profile would choose (pgvector rows go with their photo)."""
    settings.PSBIR_VECTOR_ENGINE = "faiss"


def _age(path: Path, seconds: float) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def _stray(path: Path, seconds: float = 2 * DAY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left by a crash")
    return _age(path, seconds)


@pytest.fixture
def storage(indexed_library, member_a):
    """One of everything in use (old files), plus orphans old and young."""
    library = indexed_library
    image = LibraryImage.objects.filter(library=library).first()
    media = Path(settings.MEDIA_ROOT)
    head = make_head(member_a, head=general_head())
    in_use = [
        index_store.index_path(library.index_file),
        media / image.photo.name,
        media / image.edge_map.name,
        head_files.absolute_path(head.file_path),
    ]
    for path in in_use:
        _age(path, 3 * DAY)
    index_dir = index_store.index_path(library.index_file).parent
    head_dir = head_files.absolute_path(head.file_path).parent
    photo_dir = (media / image.photo.name).parent
    old_orphans = [
        _stray(index_dir / "fake-1-deadbeef.faiss"),  # written, swap never committed
        _stray(index_dir / ".fake-1-0123.faiss.x1y2.tmp"),  # a write cut short
        _stray(index_dir / "fake-1-cafebabe.ivf"),  # a base no manifest names
        _stray(head_dir / "head-v99.pt"),  # a head never published
        _stray(photo_dir / "abandoned.png"),  # stored before a row that never committed
        _stray(media / f"tenants/{library.tenant_id}/sketches/lost.png"),
    ]
    young = _stray(index_dir / "fake-1-feedface.faiss", seconds=60)  # a live job's, maybe
    elsewhere = _stray(media / "unrelated" / "keep.txt")  # not a path we own
    return in_use, old_orphans, [young, elsewhere]


def test_the_sweep_deletes_old_orphans_only(storage, capsys):
    in_use, old_orphans, kept = storage
    call_command("sweep_orphans")
    out = capsys.readouterr().out
    assert f"deleted {len(old_orphans)} orphaned files" in out
    assert not any(path.exists() for path in old_orphans)
    assert all(path.exists() for path in in_use + kept)


def test_a_dry_run_lists_and_keeps(storage, capsys):
    _, old_orphans, _ = storage
    call_command("sweep_orphans", "--dry-run")
    out = capsys.readouterr().out
    assert f"would delete {len(old_orphans)} orphaned files" in out
    assert all(str(path) in out for path in old_orphans)
    assert all(path.exists() for path in old_orphans)


def test_a_min_age_under_an_hour_is_refused(db):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("sweep_orphans", "--min-age-hours", "0.1")


def test_the_sweep_runs_daily():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="psbir_site.tasks.sweep_orphans")
    assert (schedule.schedule_type, schedule.repeats) == ("D", -1)


def _ivf_index(seed: int = 0, n: int = 1500, dim: int = 32):
    from retrieval.engine.index import VectorIndex

    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    index = VectorIndex(dim, ann_threshold=500)
    index.add(np.arange(1, n + 1), x)
    assert index.kind == "ivf"
    return index


def _files(relative: str) -> list[Path]:
    return index_store.linked_index_files(index_store.index_path(relative))


def test_manifests_share_a_base_until_the_last_one_naming_it_goes(indexed_library):
    library = indexed_library
    first = index_store.write_index(_ivf_index(), library, "fake-1")
    manifest, base = _files(first)
    assert base.suffix == ".ivf" and base.exists()
    written = base.stat().st_mtime_ns
    changed = index_store.read_index(first)
    changed.add([10**6], np.ones((1, 32), np.float32))  # an import: a new manifest only
    second = index_store.write_index(changed, library, "fake-1")
    assert _files(second)[1] == base and base.stat().st_mtime_ns == written

    library.index_file = first
    served_first = index_store.served_index(library)
    library.index_file = second
    served_second = index_store.served_index(library)
    assert served_second is not served_first
    assert served_second._base is served_first._base  # the swap reused the mapped base
    assert 10**6 in served_second and 10**6 not in served_first

    index_store.delete_index(first)  # on commit of the swap
    assert not manifest.exists() and base.exists()
    assert 10**6 in index_store.read_index(second)
    index_store.delete_index(second)
    assert not index_store.index_path(second).exists() and not base.exists()


def test_the_sweep_keeps_bases_named_by_served_or_young_manifests(indexed_library):
    library = indexed_library
    served = index_store.write_index(_ivf_index(0), library, "fake-1")
    previous = index_store.read_index(served)
    previous.remove([1, 2])
    stale = index_store.write_index(previous, library, "fake-1")  # same base, not served
    lost = index_store.write_index(_ivf_index(1), library, "fake-1")  # its swap never committed
    live = index_store.write_index(_ivf_index(2), library, "fake-1")  # a job's, not swapped yet
    old_file = index_store.index_path(library.index_file)
    library.index_file = served
    library.save(update_fields=["index_file"])
    kept, stale_files, lost_files = _files(served), _files(stale), _files(lost)
    assert len(lost_files) == 2 and stale_files[1] == kept[1]
    young_manifest, live_base = _files(live)
    for path in {old_file, *kept, *stale_files, *lost_files, live_base}:
        _age(path, 2 * DAY)

    found = {path.resolve() for path in orphans.orphan_index_files(timedelta(hours=24))}
    assert found == {old_file, stale_files[0], *lost_files}

    call_command("sweep_orphans")
    assert all(path.exists() for path in [*kept, young_manifest, live_base])
    assert not any(path.exists() for path in [old_file, stale_files[0], *lost_files])
    assert len(index_store.read_index(served)) == 1500
