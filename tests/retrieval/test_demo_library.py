"""The bundled demo library: no placeholder, tiny or blank image in it (the builder's checks),
its manifest matches its files, and ``seed_demo`` drops photos removed from it."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from retrieval.models import LibraryImage
from retrieval.services import images as image_services
from tests.retrieval.demo import DEMO, REPO, demo_builder
from tests.retrieval.fakes import shape_png

BIRD_17_COMMIT = "ccba0a5"  # the last commit that bundled the placeholder bird-17.jpg


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
    builder = demo_builder()
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
    problem = demo_builder().image_problem(Image.open(io.BytesIO(shown.stdout)))
    assert problem and "placeholder" in problem


def test_bundled_demo_set_has_no_flagged_image_and_matches_its_manifest():
    builder = demo_builder()
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
