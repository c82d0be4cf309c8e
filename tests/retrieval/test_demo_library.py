"""Regression tests for the rough edges of the retrieval pages and the demo set (issue 15)."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageDraw

from retrieval.models import LibraryImage
from retrieval.services import images as image_services
from retrieval.views import refusal_summary
from tests.retrieval.fakes import circle_strokes, shape_png

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "retrieval" / "demo_library"
BIRD_17_COMMIT = "ccba0a5"  # the last commit that bundled the placeholder bird-17.jpg


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_demo_library", REPO / "scripts" / "build_demo_library.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.mark.django_db
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


@pytest.mark.django_db
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


@pytest.mark.django_db
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


# --- the demo library: placeholders, tiny and blank images ----------------------------------


def _clip_art(size=(240, 320)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 60, 200, 260), fill=(240, 200, 40), outline="black", width=4)
    draw.polygon([(120, 20), (90, 70), (150, 70)], fill=(200, 60, 40), outline="black")
    return image


def _placeholder() -> Image.Image:
    """The "Linked Image Not Found" look: a small red frame round a cross and a caption."""
    image = Image.new("RGB", (226, 320), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((55, 85, 158, 188), outline=(230, 30, 30), width=3)
    draw.rectangle((90, 95, 122, 125), fill=(230, 30, 30))
    draw.line((96, 101, 116, 119), fill="white", width=4)
    draw.line((116, 101, 96, 119), fill="white", width=4)
    for y in (135, 150, 165):
        draw.text((70, y), "Linked Image", fill="black")
    return image


def test_image_problem_flags_placeholders_tiny_and_blank_images():
    builder = _builder()
    assert builder.image_problem(_clip_art()) is None
    assert builder.image_problem(_clip_art((320, 92))) is None  # a wide boat is fine
    assert "placeholder" in builder.image_problem(_placeholder())
    assert "tiny" in builder.image_problem(_clip_art((100, 90)))
    assert "blank" in builder.image_problem(Image.new("RGB", (300, 300), "white"))
    noisy_flat = np.full((300, 300, 3), 200, np.uint8) + np.random.default_rng(0).integers(
        0, 3, (300, 300, 3), dtype=np.uint8
    )
    assert "blank" in builder.image_problem(Image.fromarray(noisy_flat))
    speck = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(speck).rectangle((10, 10, 30, 30), fill="black")
    assert builder.image_problem(speck) is not None


def test_the_real_bird_17_placeholder_is_flagged():
    # The file as the package shipped it, from the commit before it was dropped.
    import subprocess

    shown = subprocess.run(
        ["git", "show", f"{BIRD_17_COMMIT}:retrieval/demo_library/images/bird-17.jpg"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.skip("no git history here (the placeholder lives only in history)")
    problem = _builder().image_problem(Image.open(io.BytesIO(shown.stdout)))
    assert problem and "placeholder" in problem


def test_bundled_demo_set_has_no_flagged_image_and_matches_its_manifest():
    builder = _builder()
    assert builder.check_bundled(DEMO / "images") == []
    rows = list(csv.DictReader((DEMO / "manifest.csv").open()))
    on_disk = sorted(p.name for p in (DEMO / "images").iterdir())
    assert sorted(row["file"] for row in rows) == on_disk
    assert "bird-17.jpg" not in on_disk


@pytest.mark.django_db
def test_seed_demo_removes_photos_dropped_from_the_bundled_set(make_library, tenant_a, fake_engine):
    from retrieval.management.commands.seed_demo import Command

    library = make_library(tenant_a, name="Demo clip art")
    items = [
        image_services.UploadItem(name="bird-17.jpg", data=shape_png("circle")),
        image_services.UploadItem(name="bird-16.jpg", data=shape_png("square")),
    ]
    image_services.images_import(library=library, items=items, enqueue=False)
    assert Command()._drop_removed(library) == 1
    names = set(
        LibraryImage.objects.filter(library=library).values_list("original_name", flat=True)
    )
    assert names == {"bird-16.jpg"}
