"""Untrusted inputs: photo bytes, zip archives, labels CSV files."""

from __future__ import annotations

import io
import zipfile

import pytest

from retrieval import archives, photos
from retrieval.labels import LabelsRejected, match_key, parse_labels_csv
from tests.retrieval.fakes import shape_image, shape_png


def _zip(entries: dict[str, bytes], **kwargs) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", **kwargs) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


# --- photos ---------------------------------------------------------------------------------


def test_check_photo_accepts_png_and_jpeg():
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        checked = photos.check_photo(shape_png("circle", fmt=fmt))
        assert checked.extension == ext
        assert (checked.width, checked.height) == (128, 128)
        assert checked.rgb.shape == (128, 128, 3) and len(checked.sha256) == 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "damaged|could not be read|not an image"),
        (b"%PDF-1.4 a document", "not an image we accept"),
        (shape_png("circle")[:200], "damaged|truncated|could not be read"),
        (shape_png("circle", size=6), "too small"),
    ],
)
def test_check_photo_refuses_with_a_clear_message(data, message):
    with pytest.raises(photos.PhotoRejected, match=message):
        photos.check_photo(data)


def test_a_misnamed_or_damaged_file_is_told_so_by_its_name():
    with pytest.raises(
        photos.PhotoRejected,
        match="could not be decoded: it is damaged or not "
        r"really a JPEG \(its name ends in \.jpg\)",
    ):
        photos.check_photo(b"garbage bytes, not a jpeg", name="holiday.jpg")
    with pytest.raises(photos.PhotoRejected, match="not an image we accept"):
        photos.check_photo(b"%PDF-1.4 a document", name="report.pdf")


def test_size_and_pixel_limits_come_from_settings(settings):
    data = shape_png("circle", size=128)
    settings.PSBIR_MAX_UPLOAD_BYTES = len(data) - 1
    with pytest.raises(photos.PhotoRejected, match="larger than"):
        photos.check_photo(data)
    settings.PSBIR_MAX_UPLOAD_BYTES = 10**7
    settings.PSBIR_MAX_IMAGE_PIXELS = 128 * 128 - 1
    with pytest.raises(photos.PhotoRejected, match="too large"):
        photos.check_photo(data)


def test_transparent_background_becomes_white():
    from PIL import Image

    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    assert photos.check_photo(out.getvalue()).rgb.min() == 255


def test_thumbnail_is_a_small_jpeg():
    thumb = photos.thumbnail_jpeg(shape_image("square", 600))
    assert thumb[:2] == b"\xff\xd8"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb)).size) == photos.THUMBNAIL_SIZE


# --- zip archives ---------------------------------------------------------------------------


def test_zip_with_traversal_and_absolute_names_refuses_those_entries_only():
    good = shape_png("circle")
    archive = _zip(
        {
            "photos/circle.png": good,
            "../evil.png": good,
            "photos/../../escape.png": good,
            "/etc/passwd.png": good,
            "C:\\windows\\x.png": good,
            "__MACOSX/photos/._circle.png": b"resource fork",
        }
    )
    entries = list(archives.iter_zip(archive))
    by_name = {e.name: e for e in entries}
    assert by_name["photos/circle.png"].data == good and by_name["photos/circle.png"].error is None
    for name in ("../evil.png", "photos/../../escape.png"):
        assert by_name[name].data is None and "outside the archive" in by_name[name].error
    for name in ("/etc/passwd.png", "C:\\windows\\x.png"):
        assert "absolute path" in by_name[name].error
    assert "__MACOSX/photos/._circle.png" not in by_name


def test_nested_archives_are_refused_by_name_and_by_content():
    inner = _zip({"a.png": shape_png("circle")}).getvalue()
    entries = {
        e.name: e for e in archives.iter_zip(_zip({"inner.zip": inner, "sneaky.png": inner}))
    }
    assert "archives inside" in entries["inner.zip"].error
    assert "archives inside" in entries["sneaky.png"].error


def test_too_many_files_rejects_the_whole_archive(settings):
    settings.PSBIR_MAX_ZIP_FILES = 3
    archive = _zip({f"{i}.png": b"x" for i in range(4)})
    with pytest.raises(archives.ArchiveRejected, match="4 files; the limit is 3"):
        next(archives.iter_zip(archive))


def test_declared_uncompressed_size_over_the_limit_rejects_the_archive(settings):
    settings.PSBIR_MAX_ZIP_UNCOMPRESSED_BYTES = 10_000
    # 20 kB of zeros compress to almost nothing: a (tiny) zip bomb.
    archive = _zip({"zeros.png": bytes(20_000)}, compression=zipfile.ZIP_DEFLATED)
    assert len(archive.getvalue()) < 1_000
    with pytest.raises(archives.ArchiveRejected, match="unpack to 20,000 bytes"):
        next(archives.iter_zip(archive))


def test_entry_over_the_photo_size_limit_is_refused(settings):
    settings.PSBIR_MAX_UPLOAD_BYTES = 1_000
    entries = list(archives.iter_zip(_zip({"big.png": bytes(5_000), "ok.png": b"y" * 10})))
    assert "larger than" in entries[0].error and entries[1].data == b"y" * 10


def test_not_a_zip_is_rejected():
    with pytest.raises(archives.ArchiveRejected, match="not a zip"):
        next(archives.iter_zip(io.BytesIO(b"PK but not really a zip")))


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("a/b.png", False),
        ("a..b.png", False),
        ("../a.png", True),
        ("a\\..\\b.png", True),
        ("/a", True),
    ],
)
def test_unsafe_name_reason(name, unsafe):
    assert (archives.unsafe_name_reason(name) is not None) == unsafe


# --- labels CSV -----------------------------------------------------------------------------


def test_labels_csv_with_aliases_and_extra_columns():
    rows, problems = parse_labels_csv(
        "\ufefffilename,title,category,source\n"
        "animals/Cat-01.PNG,A cat,mammal,openclipart\n"
        ",no file,x,y\n"
        "dog.png,A dog,mammal,openclipart\n".encode()
    )
    assert problems == ["Line 3: no file name."]
    assert rows[match_key("cat-01.png")].values() == {"category": "mammal", "caption": "A cat"}
    assert rows["dog.png"].subcategory is None  # absent column: leave stored values alone


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("category\nx\n", "'file' column"),
        ("file\na.png\n", "'category', 'subcategory'"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_unusable_labels_csv_is_rejected(text, message):
    with pytest.raises(LabelsRejected, match=message):
        parse_labels_csv(text.encode() if isinstance(text, str) else text)
