"""Captions from labels, cleaned file names otherwise, and alt text that describes the photo
(issue 21, item 7).

The demo library's captions were its package file names cut at 24 characters, author
included ("flamand bw jean victor b", "mirjam meijer mirjam mei"), and pages used the raw
caption or file name as alt text. Captions now come from the titles the package's PNGs
carry (a cleaned file name where a title names no picture); an unlabelled photo shows its
file name cleaned; alt text gives the caption and the category.
"""

from __future__ import annotations

import csv
import re

import pytest
from django.urls import reverse

from retrieval.captions import clean_file_name, photo_alt, photo_title
from retrieval.models import ImageLibrary, LibraryImage
from retrieval.services import images as image_services
from tests.retrieval.demo import DEMO, demo_builder
from tests.retrieval.fakes import circle_strokes, shape_png


def _manifest() -> list[dict[str, str]]:
    with open(DEMO / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("angry_monkey_benji_park_01.png", "Angry monkey benji park"),
        ("circle-3.png", "Circle"),
        ("Harbour at dusk-2.JPG", "Harbour at dusk"),
        ("HOUSE_FRONT.jpeg", "House front"),
        ("beachball_v0.1.png", "Beachball"),
        ("photos/2024/red-tulip.webp", "Red tulip"),
        ("IMG_0042.JPG", "IMG 0042"),  # the number is all a camera name has
        ("2024-05-01.jpg", "2024 05 01"),
        ("McLaren_F1.png", "McLaren F1"),  # mixed case is kept
    ],
)
def test_a_file_name_cleaned_into_a_caption(name, cleaned):
    assert clean_file_name(name) == cleaned


def test_title_and_alt_of_a_photo():
    labelled = LibraryImage(pk=1, original_name="mammal-01.jpg", caption="A simple pig")
    labelled.category = "mammal"
    assert photo_title(labelled) == "A simple pig"
    assert photo_alt(labelled) == "A simple pig, category mammal"
    labelled.subcategory = "pig"
    assert photo_alt(labelled) == "A simple pig, category mammal / pig"
    bare = LibraryImage(pk=2, original_name="red_tulip_03.jpg")
    assert photo_title(bare) == photo_alt(bare) == "Red tulip"


# --- the demo library's manifest ---------------------------------------------------------------


def test_demo_captions_are_titles_not_file_names_with_authors():
    rows = {row["file"]: row for row in _manifest()}
    assert (
        rows["bird-21.jpg"]["caption"] == "Flamand (black and white)"
    )  # was "flamand bw jean victor b"
    assert rows["flower-24.jpg"]["caption"] == "Flower"  # was "mirjam meijer mirjam mei"
    assert rows["mammal-02.jpg"]["caption"] == "Angry Monkey"  # was "angry monkey benji park"
    assert rows["vehicle-01.jpg"]["caption"] == "1989 Chevrolet Celebrity Wagon"
    assert rows["fruit-15.jpg"]["caption"] == "Banana"  # not its title "Clipart by ... - pear"
    assert rows["bug-02.jpg"]["caption"] == "Ant"  # not its title "Etiquette Icons"
    assert rows["flower-13.jpg"]["author"] == "Maja Kocoń"  # UTF-8, not "KocoÅ\x84"
    for row in rows.values():
        caption, author = row["caption"], row["author"]
        assert caption and caption[0] == caption[0].upper(), row
        # No underscores, no package variant numbers glued on ("Bee1", "home0").
        assert "_" not in caption and not re.search(r"[A-Za-z]{3}\d+\b", caption), row
        # No caption carries its author's name (the file names did).
        names = {w for w in re.findall(r"[^\W\d_]{4,}", author.lower())} - {"clipart", "open"}
        assert not names & set(re.findall(r"[^\W\d_]+", caption.lower())), row


def test_the_builder_takes_titles_that_name_the_picture():
    caption = demo_builder().caption_from_metadata
    assert caption("Angry Monkey", "Benji Park", "angry_monkey_benji_park_01", "mammal") == (
        "Angry Monkey"
    )
    # A collection's title, an author's name, a title with the author in it.
    assert caption("Clipart by Nicu Buculei - pear", "Nicu Buculei", "banana", "fruit") == "Banana"
    assert caption("Mirjam Meijer", "Mirjam Meijer", "mirjam_meijer_mirjam_mei", "flower") == (
        "Flower"
    )
    assert caption(
        "Chalet di montagna Architetto Francesco Rollandin",
        "Architetto Francesco Rollandin",
        "chalet_di_montagna_arch",
        "house",
    ) == ("Chalet di montagna")
    # No title: the file name, without the author's cut-off name.
    assert caption("", "", "cormorant-md", "bird") == "Cormorant"
    assert caption("flamand_bw", "Jean-Victor Balin", "flamand_bw_jean_victor_b", "bird") == (
        "Flamand (black and white)"
    )


@pytest.mark.django_db
def test_seed_demo_brings_an_existing_demo_library_up_to_the_manifest(tenant_a, fake_engine):
    from retrieval.management.commands.seed_demo import DEMO_LIBRARY, Command
    from retrieval.services.libraries import library_create

    library = library_create(tenant=tenant_a, name=DEMO_LIBRARY)
    image_services.images_import(
        library=library,
        items=[image_services.UploadItem(name="bird-21.jpg", data=shape_png("circle"))],
        labels={},
        enqueue=False,
    )
    LibraryImage.objects.filter(library=library).update(caption="flamand bw jean victor b")
    Command()._library(tenant_a)
    image = LibraryImage.objects.get(library=library)
    assert (image.caption, image.category) == ("Flamand (black and white)", "bird")
    assert ImageLibrary.objects.filter(tenant=tenant_a).count() == 1


# --- pages and API -----------------------------------------------------------------------------


@pytest.fixture
def named_photos(make_library, tenant_a, fake_engine):
    """A library whose photos have camera-ish file names; one has a caption and a category."""
    from tests.retrieval.conftest import add_shapes

    library = make_library(tenant_a, name="Shapes")
    add_shapes(library, ("circle", "square"), per_shape=2)
    for image in LibraryImage.objects.filter(library=library):
        image.original_name = f"holiday_snap_{image.original_name.replace('-', '_')}"
        image.save()
    pig = LibraryImage.objects.filter(library=library).first()
    pig.caption, pig.category = "A round pig", "mammal"
    pig.save()
    return library


@pytest.mark.django_db
def test_search_results_carry_a_title_and_an_alt_text(api_client_a, named_photos):
    data = api_client_a.post(
        "/api/search/", {"strokes": circle_strokes(), "top_k": 4}, format="json"
    ).json()
    by_name = {r["original_name"]: r for r in data["results"]}
    pig = by_name["holiday_snap_circle_0.png"]
    assert (pig["title"], pig["alt"]) == ("A round pig", "A round pig, category mammal")
    other = by_name["holiday_snap_square_1.png"]
    assert (other["title"], other["alt"]) == ("Holiday snap square", "Holiday snap square")


@pytest.mark.django_db
def test_session_page_names_and_describes_photos(client_a, api_client_a, named_photos):
    data = api_client_a.post(
        "/api/search/", {"strokes": circle_strokes(), "top_k": 4}, format="json"
    ).json()
    html = client_a.get(reverse("retrieval:session-detail", args=[data["session"]])).content
    html = html.decode()
    assert 'alt="A round pig, category mammal"' in html
    assert '<span class="name">Holiday snap square</span>' in html
    assert "holiday_snap" not in html  # the raw file name is nowhere on the page


@pytest.mark.django_db
def test_admin_library_page_names_and_describes_photos(client_admin_a, named_photos):
    html = client_admin_a.get(reverse("retrieval:library-detail", args=[named_photos.pk]))
    html = html.content.decode()
    assert 'alt="A round pig, category mammal"' in html
    assert 'alt="Holiday snap circle"' in html
    # Admins match photos to labels CSVs by file name: their grid keeps the names whole.
    assert 'title="holiday_snap_circle_1.png">holiday_snap_circle_1.png</span>' in html
