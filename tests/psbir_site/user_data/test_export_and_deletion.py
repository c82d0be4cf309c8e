"""A user's own data: the export holds exactly theirs; deleting it (by themselves, or with
the account in the Django admin) takes it out of the next training, files included."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts import audit
from accounts.models import User
from personalization import head_files, training_data
from personalization.models import (
    Feedback,
    PersonalHead,
    PersonalizationSettings,
    TrainingJob,
)
from personalization.services import training
from psbir_site.user_data import export as data_export
from psbir_site.user_data import services as user_data
from retrieval import photos
from retrieval.engine.heads import new_head
from retrieval.models import SearchSession, SketchQuery
from tests.personalization import factories
from tests.personalization.conftest import World, build_world

pytestmark = pytest.mark.django_db

STROKES = {
    "width": 400,
    "height": 300,
    "strokes": [{"points": [[10, 10], [200, 150], [390, 20]], "width": 4.0, "erase": False}],
}


@dataclass
class People:
    me: World
    colleague: World  # same organisation
    stranger: World  # another organisation


def _decorate(world: World, *, version: int) -> None:
    """Give a world's user every kind of data: sketches, strokes, heads with files, w, jobs,
    a withdrawn mark and a "none of these"."""
    user = world.user
    for i, query in enumerate(world.queries):
        sketch = np.full((256, 256), 255, dtype=np.uint8)
        sketch[40 + i : 200, 100 + i] = 0
        query.sketch_image.save(f"sk-{user.pk}-{i}.png", ContentFile(photos.png_bytes(sketch)))
        if i == 0:
            query.strokes = STROKES
            query.save(update_fields=["strokes"])
    withdrawn = factories.mark(user, world.results[0][-1])
    withdrawn.withdrawn_at = withdrawn.created_at
    withdrawn.save(update_fields=["withdrawn_at"])
    Feedback.objects.create(
        tenant_id=user.tenant_id, user=user, query=world.queries[-1], kind=Feedback.Kind.NONE
    )
    factories.make_head(user, head=new_head("vgg16_hed", version), active=False)
    factories.make_head(user, head=new_head("vgg16_hed", version + 1))
    PersonalizationSettings.objects.create(tenant_id=user.tenant_id, user=user, personal_weight=0.3)
    TrainingJob.objects.create(
        tenant_id=user.tenant_id, user=user, trigger=TrainingJob.Trigger.MANUAL, state="ready"
    )


@pytest.fixture
def people(member_a: User, make_user: Any, tenant_a: Any, member_b: User) -> People:
    colleague = make_user(tenant_a, username="alpha-colleague")
    worlds = People(build_world(member_a), build_world(colleague), build_world(member_b))
    _decorate(worlds.me, version=1)
    _decorate(worlds.colleague, version=11)
    _decorate(worlds.stranger, version=21)
    return worlds


def _zip(user: User) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(data_export.export_stream(user=user))))


def _collect(user: User) -> training_data.TrainingInputs:
    return training_data.collect(user=user, per_branch=4, max_sketches=50)


def _ids(rows: Any) -> set[int]:
    return set(rows.values_list("id", flat=True))


def _sketch_paths(user: User) -> list[Path]:
    return [
        Path(q.sketch_image.path)
        for q in SketchQuery.objects.filter(user=user).exclude(sketch_image="")
    ]


def _head_paths(user: User) -> list[Path]:
    return [
        head_files.absolute_path(h.file_path)
        for h in PersonalHead.objects.filter(user=user).exclude(file_path="")
    ]


# --- export ------------------------------------------------------------------------------


def test_export_holds_exactly_the_users_own_data(people: People) -> None:
    me = people.me.user
    with _zip(me) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        sessions = {json.loads(zf.read(n))["id"] for n in names if n.endswith("/session.json")}
        queries = [json.loads(zf.read(n)) for n in names if n.endswith(".json") and "/query-" in n]
        feedback = json.loads(zf.read("feedback.json"))
        heads = json.loads(zf.read("personalization/heads.json"))
        jobs = json.loads(zf.read("personalization/training_jobs.json"))
        settings_row = json.loads(zf.read("personalization/settings.json"))
        pngs = {n: zf.read(n) for n in names if n.endswith(".png")}

    assert sessions == _ids(SearchSession.objects.filter(user=me))
    assert {q["id"] for q in queries} == _ids(SketchQuery.objects.filter(user=me))
    assert {f["id"] for f in feedback} == _ids(Feedback.objects.filter(user=me))
    assert {f["kind"] for f in feedback} == {"match", "none"}
    assert any(f["withdrawn_at"] for f in feedback)
    assert [h["version"] for h in heads] == [1, 2]
    assert len(jobs) == 1 and jobs[0]["id"] == TrainingJob.objects.get(user=me).pk
    assert settings_row["personal_weight"] == 0.3

    # Nothing of the colleague's (same tenant) or the stranger's (another tenant).
    for other in (people.colleague.user, people.stranger.user):
        assert not sessions & _ids(SearchSession.objects.filter(user=other))
        assert not {f["id"] for f in feedback} & _ids(Feedback.objects.filter(user=other))
        assert not {q["id"] for q in queries} & _ids(SketchQuery.objects.filter(user=other))

    # Strokes as JSON, each stored sketch as a valid PNG, results with their ranks.
    by_id = {q["id"]: q for q in queries}
    first = people.me.queries[0]
    assert by_id[first.pk]["strokes"] == STROKES
    assert by_id[first.pk]["results"][0]["rank"] == 1
    assert len(by_id[first.pk]["results"]) == first.results.count()
    assert len(pngs) == len(people.me.queries)
    for name, data in pngs.items():
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (256, 256)
    for query in queries:
        assert query["image_file"] in pngs

    summary = data_export.user_data_summary(user=me)
    assert manifest["counts"] == summary.counts()
    assert manifest["counts"]["sketches"] == len(pngs)
    assert manifest["user"]["username"] == me.username
    assert set(manifest["files"]) == names - {"manifest.json"}


def test_export_of_a_user_with_nothing_is_a_zip_with_an_empty_manifest(member_a: User) -> None:
    with _zip(member_a) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["manifest.json"]
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["files"] == []
    assert set(manifest["counts"].values()) == {0}
    assert manifest["format"] == data_export.FORMAT


def test_export_notes_a_sketch_whose_file_is_gone(people: People) -> None:
    query = people.me.queries[1]
    query.sketch_image.storage.delete(query.sketch_image.name)
    with _zip(people.me.user) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entry = json.loads(zf.read(f"sessions/{query.session_id}/query-{query.pk}.json"))
    assert manifest["missing_sketches"] == [query.pk]
    assert entry["image_file"] is None


# --- deletion by the user ----------------------------------------------------------------


def test_delete_takes_the_users_data_out_of_the_next_training(
    people: People, run_on_commit: Any
) -> None:
    me, colleague, stranger = people.me.user, people.colleague.user, people.stranger.user
    assert _collect(me).feedback_count > 0  # before: the next training would use it
    sketches, heads = _sketch_paths(me), _head_paths(me)
    assert sketches and heads and all(p.exists() for p in heads)
    kept = {
        u.pk: (_collect(u).feedback_count, _sketch_paths(u), _head_paths(u))
        for u in (colleague, stranger)
    }

    with run_on_commit():
        summary = user_data.user_data_delete(user=me, actor=me)

    assert summary.sessions == 6 and summary.feedback == 8 and summary.heads == 2
    with pytest.raises(training_data.NoTrainingData):
        _collect(me)
    for model in (SearchSession, SketchQuery, Feedback, PersonalHead, TrainingJob):
        assert not model.objects.filter(user=me).exists(), model
    assert not PersonalizationSettings.objects.filter(user=me).exists()
    assert not any(p.exists() for p in sketches)
    assert not any(p.exists() for p in heads)
    assert not head_files.user_dir(tenant_id=me.tenant_id, user_id=me.pk).exists()
    assert User.objects.filter(pk=me.pk).exists()  # the account stays
    assert data_export.user_data_summary(user=me).is_empty

    for user in (colleague, stranger):  # nobody else lost anything
        count, their_sketches, their_heads = kept[user.pk]
        assert _collect(user).feedback_count == count
        assert all(p.exists() for p in their_sketches)
        assert all(p.exists() for p in their_heads)

    entry = LogEntry.objects.get(user=me, action_flag=CHANGE)
    assert entry.object_id == str(me.pk)
    assert entry.change_message.startswith(audit.DATA_DELETED)
    assert "6 search sessions" in entry.change_message


def test_a_training_run_queued_before_the_deletion_trains_nothing(
    people: People, run_on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = people.me.user
    monkeypatch.setattr(training, "_enqueue", lambda *args: None)
    TrainingJob.objects.filter(user=me).delete()
    job, created = training.training_request(user=me)
    assert created
    with run_on_commit():
        user_data.user_data_delete(user=me, actor=me)
    assert training.training_run(job_id=job.pk, tenant_id=me.tenant_id) is None
    assert not PersonalHead.objects.filter(user=me).exists()


@pytest.mark.django_db(transaction=True)  # as in the worker: no test-wide transaction
def test_data_deleted_while_a_training_runs_is_not_brought_back(
    people: People, monkeypatch: pytest.MonkeyPatch, fast_training: None
) -> None:
    me = people.me.user
    monkeypatch.setattr(training, "_enqueue", lambda *args: None)
    TrainingJob.objects.filter(user=me).delete()
    job, _ = training.training_request(user=me)
    real_collect = training_data.collect

    def deleted_meanwhile(**kwargs: Any) -> Any:
        inputs = real_collect(**kwargs)  # the worker read the marks, then the data went
        user_data.user_data_delete(user=me, actor=me)
        return inputs

    monkeypatch.setattr(training_data, "collect", deleted_meanwhile)
    assert training.training_run(job_id=job.pk, tenant_id=me.tenant_id) is None
    assert not PersonalHead.objects.filter(user=me).exists()
    assert not TrainingJob.objects.filter(user=me).exists()
    assert not head_files.user_dir(tenant_id=me.tenant_id, user_id=me.pk).exists()


def test_a_colleague_cannot_delete_someone_elses_data(people: People) -> None:
    with pytest.raises(PermissionError):
        user_data.user_data_delete(user=people.me.user, actor=people.colleague.user)
    with pytest.raises(PermissionError):
        user_data.user_data_delete(user=people.me.user, actor=people.stranger.user)
    assert Feedback.objects.filter(user=people.me.user).exists()


# --- deletion of the user in the Django admin ------------------------------------------


def _admin(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def test_admin_deleting_a_user_deletes_their_data_and_files(
    people: People, superuser: User, run_on_commit: Any
) -> None:
    me, colleague = people.me.user, people.colleague.user
    sketches, heads = _sketch_paths(me), _head_paths(me)
    kept_count = _collect(colleague).feedback_count
    url = reverse("admin:accounts_user_delete", args=[me.pk])

    confirm = _admin(superuser).get(url)
    assert confirm.status_code == 200
    assert "Search session" in confirm.content.decode()  # Django lists what goes with it

    with run_on_commit():
        response = _admin(superuser).post(url, {"post": "yes"})
    assert response.status_code == 302

    assert not User.objects.filter(pk=me.pk).exists()
    for model in (SearchSession, SketchQuery, Feedback, PersonalHead, TrainingJob):
        assert not model.objects.filter(user_id=me.pk).exists(), model
    assert not any(p.exists() for p in sketches)
    assert not any(p.exists() for p in heads)
    assert not head_files.user_dir(tenant_id=me.tenant_id, user_id=me.pk).exists()
    assert me.pk not in {uid for _, uid in _due()}
    assert _collect(colleague).feedback_count == kept_count

    entry = LogEntry.objects.get(object_id=str(me.pk), action_flag=DELETION)
    assert entry.user_id == superuser.pk
    assert entry.change_message.startswith(audit.USER_DELETED)
    assert "feedback marks" in entry.change_message
    log_page = _admin(superuser).get(reverse("admin:admin_logentry_changelist"))
    assert log_page.status_code == 200
    assert audit.USER_DELETED in log_page.content.decode()  # platform staff can read it


def test_admin_bulk_delete_action_cleans_up_too(
    people: People, superuser: User, run_on_commit: Any
) -> None:
    me, stranger = people.me.user, people.stranger.user
    heads = _head_paths(me) + _head_paths(stranger)
    with run_on_commit():
        response = _admin(superuser).post(
            reverse("admin:accounts_user_changelist"),
            {"action": "delete_selected", "_selected_action": [me.pk, stranger.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[me.pk, stranger.pk]).exists()
    assert not any(p.exists() for p in heads)
    assert LogEntry.objects.filter(action_flag=DELETION, user=superuser).count() == 2
    assert Feedback.objects.filter(user=people.colleague.user).exists()


def _due() -> list[tuple[int, int]]:
    from personalization import selectors

    return selectors.users_due_for_training(threshold=1)
