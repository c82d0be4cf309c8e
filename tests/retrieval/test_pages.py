"""Pages: search canvas, sessions, library admin forms, and the import command; what they say
(a zip's refused files, a search page without a library, one date style)."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from retrieval.models import ImageLibrary, IndexJob, LibraryImage, SearchSession
from retrieval.views import refusal_summary
from tests.retrieval.fakes import circle_strokes, shape_png

pytestmark = pytest.mark.django_db


def test_search_page_has_the_canvas_tools_and_libraries(client_a, indexed_library):
    page = client_a.get(reverse("retrieval:search"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sketch-canvas"' in html
    for tool in (
        'data-tool="pen"',
        'data-tool="eraser"',
        'id="brush-size"',
        'data-action="undo"',
        'data-action="redo"',
        'data-action="clear"',
        'id="sketch-file"',
        'id="top-k"',
    ):
        assert tool in html, tool
    assert f'value="{indexed_library.pk}"' in html and "Shapes" in html
    assert "js/sketch-canvas.js" in html and "js/search.js" in html


def test_search_page_renders_without_the_personalization_panel(client_a, settings, tmp_path):
    # The include is optional: a missing template renders nothing instead of failing.
    assert client_a.get(reverse("retrieval:search")).status_code == 200
    panel = tmp_path / "templates" / "personalization"
    panel.mkdir(parents=True)
    (panel / "_search_panel.html").write_text('<div id="w-panel">w for {{ user.username }}</div>')
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates", *settings.TEMPLATES[0]["DIRS"]]}
    ]
    html = client_a.get(reverse("retrieval:search")).content.decode()
    assert '<div id="w-panel">w for alpha-member</div>' in html


def test_session_pages_list_and_show_results_with_ids(
    client_a, client_b, api_client_a, indexed_library, fake_engine
):
    data = api_client_a.post(
        "/api/search/", {"strokes": circle_strokes(), "top_k": 3}, format="json"
    ).json()
    listing = client_a.get(reverse("retrieval:sessions")).content.decode()
    # Titled with its start time and count of searches (issue 21), not "Session #N".
    title = SearchSession.objects.get(pk=data["session"]).title
    assert title.endswith(" · 1 search") and title in listing
    detail = client_a.get(
        reverse("retrieval:session-detail", args=[data["session"]])
    ).content.decode()
    for result in data["results"]:
        assert f'data-result-id="{result["id"]}" data-image-id="{result["image_id"]}"' in detail
    assert f"?session={data['session']}&amp;from={data['id']}" in detail  # redraw link
    assert 'id="session-results"' in detail  # the psbir:results payload for session.js
    assert (
        client_b.get(reverse("retrieval:session-detail", args=[data["session"]])).status_code == 404
    )
    redraw = client_a.get(
        reverse("retrieval:search"), {"session": data["session"], "from": data["id"]}
    )
    assert f'data-redraw-query-id="{data["id"]}"' in redraw.content.decode()


def test_library_pages_are_for_admins(client_a, client_admin_a, indexed_library):
    for url in (
        reverse("retrieval:libraries"),
        reverse("retrieval:library-detail", args=[indexed_library.pk]),
    ):
        assert client_a.get(url).status_code == 403
        assert client_admin_a.get(url).status_code == 200
    image = LibraryImage.objects.filter(library=indexed_library).first()
    page = client_admin_a.get(reverse("retrieval:image-detail", args=[image.pk])).content.decode()
    assert reverse("retrieval:image-edges", args=[image.pk]) in page


def test_admin_creates_a_library_and_uploads_with_a_broken_file(
    client_admin_a, tenant_a, fake_engine, q_sync, run_on_commit
):
    response = client_admin_a.post(
        reverse("retrieval:libraries"), {"name": "Fruit", "description": ""}
    )
    library = ImageLibrary.objects.get(tenant=tenant_a, name="Fruit")
    assert response["Location"] == reverse("retrieval:library-detail", args=[library.pk])
    files = [
        SimpleUploadedFile("round.png", shape_png("circle"), "image/png"),
        SimpleUploadedFile("oops.png", b"not an image at all", "image/png"),
    ]
    with run_on_commit():  # the indexing task runs (synchronously) when the upload commits
        client_admin_a.post(
            reverse("retrieval:library-upload", args=[library.pk]), {"files": files}
        )
    html = client_admin_a.get(
        reverse("retrieval:library-detail", args=[library.pk])
    ).content.decode()
    assert "1 photo(s) added" in html
    assert "1 file refused" in html and html.count("oops.png") == 1
    job = IndexJob.objects.get(library=library)
    assert job.status == IndexJob.Status.DONE and job.failed == 1
    assert f'data-job-id="{job.pk}"' in html and "1 / 2" not in html and "2 / 2" in html


def test_duplicate_library_name_is_a_form_error(client_admin_a, make_library, tenant_a):
    make_library(tenant_a, name="Birds")
    response = client_admin_a.post(reverse("retrieval:libraries"), {"name": "birds"})
    assert response.status_code == 200 and "already has a library" in response.content.decode()


def test_page_zip_upload_reports_unsafe_entries(
    client_admin_a, make_library, tenant_a, fake_engine
):
    import zipfile

    library = make_library(tenant_a)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.png", shape_png("circle"))
        archive.writestr("../../x.png", shape_png("square"))
    archive_file = SimpleUploadedFile("p.zip", buffer.getvalue(), "application/zip")
    response = client_admin_a.post(
        reverse("retrieval:library-upload-zip", args=[library.pk]),
        {"archive": archive_file},
        follow=True,
    )
    html = response.content.decode()
    assert "1 photo(s) added" in html and "outside the archive" in html


def test_import_images_command_with_labels_and_a_bad_file(tenant_a, fake_engine, tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "round").mkdir(parents=True)
    (folder / "round" / "moon.png").write_bytes(shape_png("circle"))
    (folder / "box.jpg").write_bytes(shape_png("square", fmt="JPEG"))
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "caption", "category", "subcategory"])
        writer.writerow(["moon.png", "The moon", "round", "moon"])

    call_command(
        "import_images", str(folder), tenant=tenant_a.slug, library="Sky", labels=str(labels)
    )
    out, err = capsys.readouterr()
    library = ImageLibrary.objects.get(tenant=tenant_a, name="Sky")
    assert library.index_size == 2
    moon = LibraryImage.objects.get(library=library, original_name="round/moon.png")
    assert (moon.caption, moon.category, moon.subcategory) == ("The moon", "round", "moon")
    assert "refused broken.png" in err
    assert re.search(r"Job #\d+ done: 2 of 3 photo\(s\) added, 1 refused", out)
    assert "Adding photos" in err and "Indexing" in err  # the tqdm bars (on stderr)


def test_import_images_command_errors(tenant_a, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No organisation"):
        call_command("import_images", str(tmp_path), tenant="nope", library="x")
    with pytest.raises(CommandError, match="No photos"):
        call_command("import_images", str(tmp_path), tenant=tenant_a.slug, library="x")


# --- the zip flash message ------------------------------------------------------------------


def test_refusal_banner_counts_and_points_to_the_job_list():
    failures = [
        {"name": "a.png", "error": "Not an image the server can read."},
        {"name": "b.png", "error": "Larger than 20 MB."},
    ]
    text = refusal_summary(failures)
    assert text == "2 files refused: each is listed with the reason under the import job below."
    assert "a.png" not in text  # named once, in the job list
    assert refusal_summary(failures[:1]).startswith("1 file refused: it is listed")


def test_zip_import_flash_message_reads_as_one_sentence(
    client_admin_a, make_library, tenant_a, fake_engine, run_on_commit, q_sync
):
    library = make_library(tenant_a, name="Zipped")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("round.png", shape_png("circle"))
        archive.writestr("oops.png", b"not an image")
        archive.writestr("bad.jpg", b"neither")
    upload = SimpleUploadedFile("photos.zip", buffer.getvalue(), "application/zip")
    with run_on_commit():
        response = client_admin_a.post(
            reverse("retrieval:library-upload-zip", args=[library.pk]),
            {"archive": upload},
            follow=True,
        )
    html = response.content.decode()
    assert "2 files refused" in html
    # Each refused file is named once (in the job's list), with what is wrong with it.
    assert html.count("oops.png") == 1 and html.count("bad.jpg") == 1
    assert "not really a JPEG (its name ends in .jpg)" in html


# --- the search page without a library ------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_search_page_without_a_library_says_so(client_a, client_admin_a, admin):
    client = client_admin_a if admin else client_a
    html = client.get(reverse("retrieval:search")).content.decode()
    assert "has no image library yet" in html
    message = re.search(r'data-no-library-message="([^"]*)"', html)
    assert message and "no image library yet" in message.group(1)
    assert "Choose at least one library" not in message.group(1)
    assert ('href="/libraries/"' in html) is admin
    assert re.search(r'id="search-button"[^>]*disabled', html)


# --- the session page -----------------------------------------------------------------------


def test_session_page_puts_redraw_beside_the_sketch_and_uses_one_date_style(
    client_a, api_client_a, indexed_library, fake_engine
):
    data = api_client_a.post(
        "/api/search/", {"strokes": circle_strokes(), "top_k": 3}, format="json"
    ).json()
    html = client_a.get(
        reverse("retrieval:session-detail", args=[data["session"]])
    ).content.decode()
    block = html[html.index(f'data-query-id="{data["id"]}"') :]
    sketch_column = block[block.index('class="query-sketch"') : block.index("results-grid")]
    assert "Redraw from this sketch" in sketch_column, "the link sits in the sketch's column"
    assert sketch_column.index("sketch-thumb") < sketch_column.index("Redraw from this sketch")
    # One style: "Dec. 1, 2026, 7:03 p.m." for the session and each sketch, never 12/01/2026.
    assert not re.search(r"\d{2}/\d{2}/\d{4}", html)
    long_dates = re.findall(
        r"[A-Z][a-z]{2,3}\.? \d{1,2}, \d{4}, \d{1,2}(?::\d{2})? [ap]\.m\.", html
    )
    assert len(long_dates) >= 2, long_dates
    listing = client_a.get(reverse("retrieval:sessions")).content.decode()
    assert not re.search(r"\d{2}/\d{2}/\d{4}", listing)
