"""The orphan sweep deletes old files no row refers to, and nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from personalization import head_files
from personalization.lab.synthetic import general_head
from retrieval import index_store
from retrieval.models import LibraryImage
from tests.personalization.factories import make_head

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


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
