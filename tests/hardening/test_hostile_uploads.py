"""Hostile uploads through the API, end to end (the gaps left by tests/retrieval).

Already covered there: a broken PNG among good ones, traversal names and a fake nested zip
by name, not-a-zip, too many files. Added here: a real decompression bomb (alone, in a batch,
inside a zip, as a search sketch), a truncated real PNG in a batch, a file over the upload
limit in a batch, a real zip nested under an image name, and a zip over the size limit.
Each time: a clear message, nothing half-stored (rows and media files), the rest imported.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest

from retrieval.models import IndexJob, LibraryImage, SearchResult, SketchQuery
from tests.hardening.hostile import png_bomb, upload, zip_bytes
from tests.retrieval.fakes import circle_strokes, shape_png

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return png_bomb()


def _media_files(settings: Any) -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _images_url(library: Any) -> str:
    return f"/api/libraries/{library.pk}/images/"


def _stored_names(library: Any) -> list[str]:
    return sorted(
        LibraryImage.objects.for_tenant(library.tenant_id)
        .filter(library=library)
        .values_list("original_name", flat=True)
    )


def test_the_bomb_is_small_on_disk_and_huge_decoded(bomb):
    # The fixture itself must be what it claims, or the tests below prove nothing.
    assert len(bomb) < 200_000
    assert bomb[12:16] == b"IHDR"
    assert struct.unpack(">II", bomb[16:24]) == (20_000, 20_000)


def test_a_batch_with_a_bomb_a_truncated_and_an_oversize_file_imports_the_rest(
    api_client_admin_a, make_library, tenant_a, fake_engine, q_sync, run_on_commit, bomb, settings
):
    library = make_library(tenant_a)
    good = shape_png("circle")
    settings.PSBIR_MAX_UPLOAD_BYTES = 100_000  # the bomb (~60 KB) must be refused on pixels
    oversize = shape_png("square", size=1024, fmt="PNG") + b"\x00" * 100_001
    files = [
        upload("good.png", good),
        upload("bomb.png", bomb),
        upload("truncated.png", shape_png("cross", size=256)[:-300]),
        upload("huge.png", oversize),
        upload("text.png", b"hello, I am not an image"),
        upload("good.jpg", shape_png("bars", fmt="JPEG"), "image/jpeg"),
    ]
    started = time.monotonic()
    with run_on_commit():
        response = api_client_admin_a.post(
            _images_url(library), {"files": files}, format="multipart"
        )
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.content[:500]
    data = response.json()
    assert [i["original_name"] for i in data["added"]] == ["good.png", "good.jpg"]
    errors = {f["name"]: f["error"] for f in data["failures"]}
    assert set(errors) == {"bomb.png", "truncated.png", "huge.png", "text.png"}
    assert "too large" in errors["bomb.png"] or "pixels" in errors["bomb.png"], errors
    assert "limit" in errors["huge.png"]
    assert all(message.strip() for message in errors.values())
    # Nothing of the refused files was stored: rows and media belong to the two good ones.
    assert _stored_names(library) == ["good.jpg", "good.png"]
    job = IndexJob.objects.get(pk=data["job"]["id"])
    assert job.status == IndexJob.Status.DONE and job.failed == 4
    assert LibraryImage.objects.filter(status=LibraryImage.Status.INDEXED).count() == 2
    # Refused on the header, never decoded: 400 megapixels would take many seconds and GBs.
    assert elapsed < 20, elapsed


def test_a_batch_of_only_bad_files_stores_no_photo_and_no_media(
    api_client_admin_a, make_library, tenant_a, fake_engine, q_sync, run_on_commit, bomb, settings
):
    library = make_library(tenant_a)
    media_before = _media_files(settings)
    with run_on_commit():
        response = api_client_admin_a.post(
            _images_url(library),
            {"files": [upload("bomb.png", bomb), upload("empty.png", b"")]},
            format="multipart",
        )
    assert response.status_code == 200, response.content[:500]
    assert response.json()["added"] == []
    assert len(response.json()["failures"]) == 2
    assert _stored_names(library) == []
    assert _media_files(settings) == media_before


def test_zip_with_a_bomb_a_real_nested_zip_and_traversal_imports_only_the_good_photo(
    api_client_admin_a, make_library, tenant_a, fake_engine, q_sync, run_on_commit, bomb, settings
):
    library = make_library(tenant_a)
    inner = zip_bytes({"inner/photo.png": shape_png("square")})
    archive = zip_bytes(
        {
            "ok/circle.png": shape_png("circle"),
            "ok/bomb.png": bomb,
            "ok/disguised.png": inner,  # a real zip under an image name: refused by content
            "ok/nested.zip": inner,
            "/abs/square.png": shape_png("square", seed=1),
            "ok/../../../escape.png": shape_png("cross"),
        }
    )
    media_before = _media_files(settings)
    with run_on_commit():
        response = api_client_admin_a.post(
            f"/api/libraries/{library.pk}/images/zip/",
            {"archive": upload("photos.zip", archive, "application/zip")},
            format="multipart",
        )
    assert response.status_code == 201, response.content[:500]
    data = response.json()
    assert [i["original_name"] for i in data["added"]] == ["ok/circle.png"]
    errors = {f["name"]: f["error"] for f in data["failures"]}
    assert set(errors) == {
        "ok/bomb.png",
        "ok/disguised.png",
        "ok/nested.zip",
        "/abs/square.png",
        "ok/../../../escape.png",
    }, errors
    assert all(message.strip() for message in errors.values())
    assert _stored_names(library) == ["ok/circle.png"]
    # Nothing was written outside MEDIA_ROOT's photo folders, and nothing for the refused.
    new_files = _media_files(settings) - media_before
    assert new_files and all(Path(settings.MEDIA_ROOT) in p.parents for p in new_files)
    assert not any("escape" in p.name or "bomb" in p.name for p in new_files)


def test_zip_over_the_size_limit_is_a_400_before_anything_is_stored(
    api_client_admin_a, make_library, tenant_a, settings
):
    library = make_library(tenant_a)
    archive = zip_bytes({"a.png": shape_png("circle"), "b.png": shape_png("square")})
    settings.PSBIR_MAX_ZIP_BYTES = len(archive) - 1
    response = api_client_admin_a.post(
        f"/api/libraries/{library.pk}/images/zip/",
        {"archive": upload("photos.zip", archive, "application/zip")},
        format="multipart",
    )
    assert response.status_code == 400, response.content[:500]
    assert "limit" in response.json()["detail"]
    assert not LibraryImage.objects.exists() and not IndexJob.objects.exists()


@pytest.mark.parametrize(
    ("name", "data_factory"),
    [
        ("bomb.png", png_bomb),
        ("truncated.png", lambda: shape_png("circle", size=256)[:-300]),
        ("doc.png", lambda: b"%PDF-1.4 not a sketch"),
        ("empty.png", lambda: b""),
    ],
)
def test_a_hostile_sketch_image_is_a_400_and_stores_no_query(
    api_client_a, indexed_library, fake_engine, name, data_factory
):
    before = (SketchQuery.objects.count(), SearchResult.objects.count())
    response = api_client_a.post(
        "/api/search/", {"sketch": upload(name, data_factory())}, format="multipart"
    )
    assert response.status_code == 400, response.content[:500]
    assert response.json()["detail"].strip()
    assert (SketchQuery.objects.count(), SearchResult.objects.count()) == before
    # And the service still answers a good sketch afterwards.
    ok = api_client_a.post("/api/search/", {"strokes": circle_strokes()}, format="json")
    assert ok.status_code == 201, ok.content[:300]


def test_the_import_command_refuses_hostile_files_one_by_one(
    tenant_a, fake_engine, tmp_path, settings, bomb, capsys
):
    """``manage.py import_images`` on a server folder holding the same hostile files, plus
    symlinks (one to a file outside the folder, one directory loop): the good photo is
    imported, each bad file is named with its reason, links are not followed."""
    from django.core.management import call_command

    from retrieval.models import ImageLibrary

    settings.PSBIR_MAX_UPLOAD_BYTES = 200_000
    folder = tmp_path / "incoming"
    (folder / "nested").mkdir(parents=True)
    (folder / "good.png").write_bytes(shape_png("circle"))
    (folder / "bomb.png").write_bytes(bomb)
    (folder / "nested" / "truncated.png").write_bytes(shape_png("square")[:200])
    (folder / "huge.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 300_000)
    outside = tmp_path / "secret.png"
    outside.write_bytes(shape_png("cross"))
    (folder / "link.png").symlink_to(outside)
    (folder / "nested" / "loop").symlink_to(folder, target_is_directory=True)
    media_before = _media_files(settings)

    call_command("import_images", str(folder), tenant=tenant_a.slug, library="Incoming")
    out, err = capsys.readouterr()
    library = ImageLibrary.objects.get(tenant=tenant_a, name="Incoming")
    assert _stored_names(library) == ["good.png"]
    assert library.index_size == 1
    for name in ("bomb.png", "nested/truncated.png", "huge.jpg"):
        assert f"refused {name}" in err, err[-2000:]
    assert "link.png" not in err + out and "secret" not in err + out
    assert "done: 1 of 4 photo(s) added, 3 refused" in out
    added = _media_files(settings) - media_before
    assert all("secret" not in p.name for p in added)
