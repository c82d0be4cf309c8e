"""Library, photo, zip, labels and job endpoints (admins write, members read)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retrieval.models import ImageLibrary, IndexJob, LibraryImage
from tests.retrieval.fakes import shape_png

pytestmark = pytest.mark.django_db


def _upload(name, data, content_type="image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def _zip(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return _upload("photos.zip", buffer.getvalue(), "application/zip")


def test_library_crud(api_client_admin_a, api_client_a, tenant_a):
    created = api_client_admin_a.post(
        "/api/libraries/", {"name": "Birds", "description": "d"}, format="json"
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert ImageLibrary.objects.get(pk=pk).tenant == tenant_a
    dup = api_client_admin_a.post("/api/libraries/", {"name": "birds"}, format="json")
    assert dup.status_code == 400 and "already has a library" in str(dup.json()["errors"])
    assert api_client_a.post("/api/libraries/", {"name": "X"}, format="json").status_code == 403
    assert [lib["name"] for lib in api_client_a.get("/api/libraries/").json()] == ["Birds"]
    renamed = api_client_admin_a.patch(
        f"/api/libraries/{pk}/", {"name": "Sea birds"}, format="json"
    )
    assert renamed.json()["name"] == "Sea birds"
    assert (
        api_client_a.patch(f"/api/libraries/{pk}/", {"name": "no"}, format="json").status_code
        == 403
    )
    assert api_client_admin_a.delete(f"/api/libraries/{pk}/").status_code == 204
    assert not ImageLibrary.objects.filter(pk=pk).exists()


def test_upload_with_a_broken_file_adds_the_rest_and_indexes_them(
    api_client_admin_a, make_library, tenant_a, fake_engine, q_sync, run_on_commit
):
    library = make_library(tenant_a)
    files = [
        _upload("circle.png", shape_png("circle")),
        _upload("broken.png", b"\x89PNG\r\n\x1a\n broken"),
        _upload("square.jpg", shape_png("square", fmt="JPEG"), "image/jpeg"),
    ]
    with run_on_commit():
        response = api_client_admin_a.post(
            f"/api/libraries/{library.pk}/images/",
            {"files": files, "category": "shapes"},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [i["original_name"] for i in data["added"]] == ["circle.png", "square.jpg"]
    assert [f["name"] for f in data["failures"]] == ["broken.png"]
    job = api_client_admin_a.get(f"/api/jobs/{data['job']['id']}/").json()
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("done", 3, 3, 1)
    assert job["failures"][0]["name"] == "broken.png"
    images = api_client_admin_a.get(f"/api/libraries/{library.pk}/images/").json()
    assert [(i["status"], i["category"]) for i in images] == [("indexed", "shapes")] * 2
    assert api_client_admin_a.get(images[0]["edges_url"])["Content-Type"] == "image/png"
    jobs = api_client_admin_a.get(f"/api/libraries/{library.pk}/jobs/").json()
    assert [j["id"] for j in jobs] == [job["id"]]


def test_zip_upload_refuses_traversal_entries_and_labels_the_rest(
    api_client_admin_a, make_library, tenant_a, fake_engine, q_sync, run_on_commit
):
    library = make_library(tenant_a)
    archive = _zip(
        {
            "set/circle.png": shape_png("circle"),
            "../../etc/cron.png": shape_png("square"),
            "set/inner.zip": b"PK\x03\x04....",
            "set/readme.txt": b"not a photo",
        }
    )
    labels = _upload(
        "labels.csv", b"file,category,subcategory\ncircle.png,round,moon\n", "text/csv"
    )
    with run_on_commit():
        response = api_client_admin_a.post(
            f"/api/libraries/{library.pk}/images/zip/",
            {"archive": archive, "labels": labels},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [i["original_name"] for i in data["added"]] == ["set/circle.png"]
    assert (data["added"][0]["category"], data["added"][0]["subcategory"]) == ("round", "moon")
    errors = {f["name"]: f["error"] for f in data["failures"]}
    assert "outside the archive" in errors["../../etc/cron.png"]
    assert "archives inside" in errors["set/inner.zip"]
    assert "not an image" in errors["set/readme.txt"]
    assert IndexJob.objects.get(pk=data["job"]["id"]).status == IndexJob.Status.DONE


def test_zip_upload_rejections_are_400(api_client_admin_a, make_library, tenant_a, settings):
    library = make_library(tenant_a)
    url = f"/api/libraries/{library.pk}/images/zip/"
    not_zip = api_client_admin_a.post(
        url, {"archive": _upload("x.zip", b"nope")}, format="multipart"
    )
    assert not_zip.status_code == 400 and "not a zip" in not_zip.json()["errors"]["archive"]
    settings.PSBIR_MAX_ZIP_FILES = 1
    many = api_client_admin_a.post(
        url, {"archive": _zip({"a.png": b"1", "b.png": b"2"})}, format="multipart"
    )
    assert many.status_code == 400 and "limit is 1" in many.json()["errors"]["archive"]
    assert not LibraryImage.objects.exists()


def test_labels_csv_endpoint(api_client_admin_a, indexed_library):
    csv = b"file,category,subcategory\ncircle-0.png,round,full moon\nmissing.png,x,y\n"
    response = api_client_admin_a.post(
        f"/api/libraries/{indexed_library.pk}/labels/",
        {"labels": _upload("l.csv", csv, "text/csv")},
        format="multipart",
    )
    assert response.json() == {"updated": 1, "unmatched": ["missing.png"], "problems": []}
    image = LibraryImage.objects.get(library=indexed_library, original_name="circle-0.png")
    assert (image.category, image.subcategory) == ("round", "full moon")
    bad = api_client_admin_a.post(
        f"/api/libraries/{indexed_library.pk}/labels/",
        {"labels": _upload("l.csv", b"name_only\nx\n", "text/csv")},
        format="multipart",
    )
    assert bad.status_code == 400 and "'file' column" in bad.json()["errors"]["labels"]


def test_image_label_and_delete(api_client_admin_a, api_client_a, indexed_library, fake_engine):
    image = LibraryImage.objects.filter(library=indexed_library).first()
    url = f"/api/images/{image.pk}/"
    assert api_client_admin_a.get(url).json()["id"] == image.pk
    assert api_client_a.get(url).status_code == 403  # photos are managed by admins only
    assert api_client_a.patch(url, {"category": "x"}, format="json").status_code == 403
    labelled = api_client_admin_a.patch(
        url, {"category": "round", "subcategory": "moon"}, format="json"
    )
    assert (labelled.json()["category"], labelled.json()["subcategory"]) == ("round", "moon")
    assert api_client_admin_a.delete(url).status_code == 204
    assert not LibraryImage.objects.filter(pk=image.pk).exists()
    indexed_library.refresh_from_db()
    assert indexed_library.index_size == 9


def test_image_list_filters(api_client_admin_a, indexed_library):
    url = f"/api/libraries/{indexed_library.pk}/images/"
    assert len(api_client_admin_a.get(url, {"q": "circle"}).json()) == 2
    assert len(api_client_admin_a.get(url, {"status": "failed"}).json()) == 0


def test_image_list_pages_through_every_photo(api_client_admin_a, indexed_library):
    url = f"/api/libraries/{indexed_library.pk}/images/"
    everything = [row["id"] for row in api_client_admin_a.get(url).json()]
    assert len(everything) == 10
    seen, response = [], api_client_admin_a.get(url, {"limit": 4})
    while True:
        assert response.status_code == 200 and response["X-Total-Count"] == "10"
        seen += [row["id"] for row in response.json()]
        if "Link" not in response:
            break
        next_url = response["Link"].split(">")[0].lstrip("<")
        assert 'rel="next"' in response["Link"] and "limit=4" in next_url
        response = api_client_admin_a.get(next_url)
    assert seen == everything  # in order, none twice, none left out
    filtered = api_client_admin_a.get(url, {"q": "circle", "limit": 1})
    assert filtered["X-Total-Count"] == "2" and "q=circle" in filtered["Link"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": "x"}, {"limit": "1.5"}]
)
def test_bad_paging_is_a_clear_400(api_client_admin_a, indexed_library, params):
    response = api_client_admin_a.get(f"/api/libraries/{indexed_library.pk}/images/", params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_openapi_schema_lists_the_retrieval_endpoints(api_client_a):
    schema = api_client_a.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/libraries/",
        "/api/libraries/{id}/images/",
        "/api/libraries/{id}/images/zip/",
        "/api/libraries/{id}/reindex/",
        "/api/jobs/{id}/",
        "/api/search/",
        "/api/sessions/{id}/",
        "/api/queries/{id}/",
    ):
        assert path in schema["paths"], path
    search = schema["paths"]["/api/search/"]["post"]
    assert "multipart/form-data" in search["requestBody"]["content"]
