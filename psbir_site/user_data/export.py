"""A person's own data, read: what they have, and all of it as one zip (streamed).

"Their data" is what PSBIR stored because of what they did: search sessions, the queries in
them (strokes, the sketch the network saw, the settings and the ranked results), their
feedback, their personalized heads (the history, not the weights), training jobs and their
ranking weight w. Photos belong to the organisation's libraries and are not part of it.

Every read takes the user and goes through ``for_tenant(user.tenant_id).filter(user=user)``:
a colleague's or another organisation's rows can never enter a summary or an export.

The zip (``export_stream``) is written entry by entry into a pipe that is drained after each
entry, so memory holds one entry at a time however many sessions there are::

    manifest.json                         what is in the zip (counts, files, the account)
    sessions/<id>/session.json            title, dates, the session's query ids
    sessions/<id>/query-<id>.json         strokes, settings, libraries, ranked results
    sessions/<id>/query-<id>.png          the 256x256 sketch the network saw (.jpg: the
                                          photo of a "more like this" query)
    feedback.json                         every mark, withdrawn ones too
    personalization/heads.json            each personalized head: version, status, losses
    personalization/training_jobs.json    each training run asked for
    personalization/settings.json         the chosen w (absent: the site default applies)

A user with nothing stored gets a zip holding only ``manifest.json`` with zero counts and no
files.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from personalization.models import Feedback, PersonalHead, PersonalizationSettings, TrainingJob
from retrieval.models import SearchSession, SketchQuery

FORMAT = "psbir-user-data"
FORMAT_VERSION = 1
TITLES_SHOWN = 50
_CHUNK = 256 * 1024


def _tenant_id(user: Any) -> int:
    if user is None or getattr(user, "tenant_id", None) is None:
        raise Http404("No organisation.")
    return int(user.tenant_id)


# --- the scoped querysets ------------------------------------------------------------------


def own_sessions(*, user: Any) -> QuerySet:
    return SearchSession.objects.for_tenant(_tenant_id(user)).filter(user=user)


def own_queries(*, user: Any) -> QuerySet:
    return SketchQuery.objects.for_tenant(_tenant_id(user)).filter(user=user)


def own_feedback(*, user: Any) -> QuerySet:
    return Feedback.objects.for_tenant(_tenant_id(user)).filter(user=user)


def own_heads(*, user: Any) -> QuerySet:
    return PersonalHead.objects.for_tenant(_tenant_id(user)).filter(user=user)


def own_training_jobs(*, user: Any) -> QuerySet:
    return TrainingJob.objects.for_tenant(_tenant_id(user)).filter(user=user)


def own_settings(*, user: Any) -> QuerySet:
    return PersonalizationSettings.objects.for_tenant(_tenant_id(user)).filter(user=user)


# --- what a user has -----------------------------------------------------------------------


@dataclass(frozen=True)
class DataSummary:
    """Counts of a user's data (what an export holds, what a deletion removes)."""

    sessions: int = 0
    queries: int = 0
    sketches: int = 0
    feedback: int = 0
    heads: int = 0
    head_files: int = 0
    training_jobs: int = 0
    settings: int = 0
    # The newest sessions' titles, for the page that says what goes (at most TITLES_SHOWN).
    session_titles: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_empty(self) -> bool:
        return not any(self.counts().values())

    def counts(self) -> dict[str, int]:
        data = asdict(self)
        data.pop("session_titles")
        return data

    def lines(self) -> list[str]:
        """Human lines: "3 search sessions", ... (zero counts left out)."""
        labels = [
            (self.sessions, "search session", "search sessions"),
            (self.queries, "query", "queries"),
            (self.sketches, "stored sketch image", "stored sketch images"),
            (self.feedback, "feedback mark", "feedback marks"),
            (self.heads, "personalized model", "personalized models"),
            (self.head_files, "personalized model file", "personalized model files"),
            (self.training_jobs, "training run", "training runs"),
            (self.settings, "ranking weight setting", "ranking weight settings"),
        ]
        return [f"{n} {one if n == 1 else many}" for n, one, many in labels if n]

    def describe(self) -> str:
        return ", ".join(self.lines()) or "nothing stored"


def user_data_summary(*, user: Any) -> DataSummary:
    sessions = own_sessions(user=user)
    queries = own_queries(user=user)
    heads = own_heads(user=user)
    return DataSummary(
        sessions=sessions.count(),
        queries=queries.count(),
        sketches=queries.exclude(sketch_image="").count(),
        feedback=own_feedback(user=user).count(),
        heads=heads.count(),
        head_files=heads.exclude(file_path="").count(),
        training_jobs=own_training_jobs(user=user).count(),
        settings=own_settings(user=user).count(),
        session_titles=tuple(
            str(session) for session in sessions.order_by("-updated_at", "-id")[:TITLES_SHOWN]
        ),
    )


# --- the zip -------------------------------------------------------------------------------


def export_filename(*, user: Any, now: datetime | None = None) -> str:
    day = timezone.localdate(now or timezone.now()).isoformat()
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in user.get_username())
    return f"psbir-data-{safe}-{day}.zip"


class _Pipe:
    """A write-only, unseekable file for ``zipfile``: it collects bytes until drained."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


class _Export:
    """One export: writes entries into ``zf`` and yields the pipe's bytes after each."""

    def __init__(self, user: Any, zf: zipfile.ZipFile, pipe: _Pipe, now: datetime) -> None:
        self.user, self.zf, self.pipe, self.now = user, zf, pipe, now
        self.files: list[str] = []
        self.counts = dict.fromkeys(DataSummary().counts(), 0)
        self.missing_sketches: list[int] = []

    def _info(self, name: str, *, compress: bool = True) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=timezone.localtime(self.now).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def write_json(self, name: str, data: Any) -> Iterator[bytes]:
        self.zf.writestr(self._info(name), json.dumps(data, indent=2, ensure_ascii=False))
        self.files.append(name)
        yield self.pipe.drain()

    def write_json_rows(self, name: str, rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
        """A JSON array, one row at a time (the entry is only created when a row exists)."""
        handle = None
        try:
            for row in rows:
                if handle is None:
                    handle = self.zf.open(self._info(name), "w")
                    handle.write(b"[\n")
                else:
                    handle.write(b",\n")
                handle.write(json.dumps(row, ensure_ascii=False).encode())
                yield self.pipe.drain()
            if handle is not None:
                handle.write(b"\n]\n")
        finally:
            if handle is not None:
                handle.close()
                self.files.append(name)
        yield self.pipe.drain()

    def write_file(self, name: str, source: Any) -> Iterator[bytes]:
        with self.zf.open(self._info(name, compress=False), "w") as handle:
            while chunk := source.read(_CHUNK):
                handle.write(chunk)
                yield self.pipe.drain()
        self.files.append(name)
        yield self.pipe.drain()

    # --- the parts ---

    def sessions(self) -> Iterator[bytes]:
        queries_by_session: dict[int, list[int]] = {}
        for session_id, query_id in (
            own_queries(user=self.user).order_by("session_id", "id").values_list("session_id", "id")
        ):
            queries_by_session.setdefault(session_id, []).append(query_id)
        for session in own_sessions(user=self.user).order_by("id").iterator(chunk_size=200):
            self.counts["sessions"] += 1
            yield from self.write_json(
                f"sessions/{session.pk}/session.json",
                {
                    "id": session.pk,
                    "title": session.title,
                    "created_at": _iso(session.created_at),
                    "updated_at": _iso(session.updated_at),
                    "query_ids": queries_by_session.get(session.pk, []),
                },
            )
        queries = (
            own_queries(user=self.user)
            .order_by("session_id", "id")
            .prefetch_related("libraries", "results__image")
        )
        for query in queries.iterator(chunk_size=50):
            yield from self.query(query)

    def query(self, query: Any) -> Iterator[bytes]:
        self.counts["queries"] += 1
        folder = f"sessions/{query.session_id}"
        # A sketch is a PNG; a "more like this" query keeps a JPEG of its photo instead.
        extension = PurePosixPath(query.sketch_image.name or "x.png").suffix.lower() or ".png"
        sketch_name = f"{folder}/query-{query.pk}{extension}"
        sketch_written = False
        if query.sketch_image:
            try:
                with query.sketch_image.storage.open(query.sketch_image.name, "rb") as source:
                    yield from self.write_file(sketch_name, source)
                sketch_written = True
                self.counts["sketches"] += 1
            except FileNotFoundError:
                self.missing_sketches.append(query.pk)
        results = sorted(query.results.all(), key=lambda r: r.rank)
        yield from self.write_json(
            f"{folder}/query-{query.pk}.json",
            {
                "id": query.pk,
                "session_id": query.session_id,
                "created_at": _iso(query.created_at),
                "strokes": _jsonable(query.strokes),
                "source_image_id": getattr(query, "source_image_id", None),
                "image_file": sketch_name if sketch_written else None,
                "libraries": [{"id": lib.pk, "name": lib.name} for lib in query.libraries.all()],
                "top_k": query.top_k,
                "personal_weight": query.personal_weight,
                "model_version": query.model_version,
                "personal_head_version": query.personal_head_version,
                "closeness": query.closeness,
                "nearest_taught_query_id": query.nearest_taught_id,
                "results": [
                    {
                        "rank": r.rank,
                        "image_id": r.image_id,
                        "image_name": r.image.original_name,
                        "library_id": r.image.library_id,
                        "distance": r.distance,
                        "general_distance": r.general_distance,
                        "personal_distance": r.personal_distance,
                        "terms": r.terms,
                    }
                    for r in results
                ],
            },
        )

    def feedback(self) -> Iterator[bytes]:
        rows = (
            own_feedback(user=self.user)
            .order_by("id")
            .select_related("query", "result")
            .iterator(chunk_size=500)
        )

        def items() -> Iterator[dict[str, Any]]:
            for mark in rows:
                self.counts["feedback"] += 1
                yield {
                    "id": mark.pk,
                    "kind": mark.kind,
                    "query_id": mark.query_id,
                    "session_id": mark.query.session_id,
                    "image_id": mark.result.image_id if mark.result is not None else None,
                    "rank": mark.result.rank if mark.result is not None else None,
                    "created_at": _iso(mark.created_at),
                    "withdrawn_at": _iso(mark.withdrawn_at),
                }

        yield from self.write_json_rows("feedback.json", items())

    def personalization(self) -> Iterator[bytes]:
        def heads() -> Iterator[dict[str, Any]]:
            for head in own_heads(user=self.user).order_by("version").iterator(chunk_size=100):
                self.counts["heads"] += 1
                self.counts["head_files"] += 1 if head.file_path else 0
                yield {
                    "version": head.version,
                    "status": head.status,
                    "is_active": head.is_active,
                    "feedback_count": head.feedback_count,
                    "sketch_count": head.sketch_count,
                    "model_version": head.model_version,
                    "loss_curve": _jsonable(head.loss_curve),
                    "details": _jsonable(head.details),
                    "error": head.error,
                    "created_at": _iso(head.created_at),
                    "finished_at": _iso(head.finished_at),
                    "activated_at": _iso(head.activated_at),
                }

        def jobs() -> Iterator[dict[str, Any]]:
            rows = own_training_jobs(user=self.user).select_related("head").order_by("id")
            for job in rows.iterator(chunk_size=200):
                self.counts["training_jobs"] += 1
                yield {
                    "id": job.pk,
                    "trigger": job.trigger,
                    "state": job.state,
                    "progress": job.progress,
                    "message": job.message,
                    "head_version": job.head.version if job.head is not None else None,
                    "created_at": _iso(job.created_at),
                    "started_at": _iso(job.started_at),
                    "finished_at": _iso(job.finished_at),
                }

        yield from self.write_json_rows("personalization/heads.json", heads())
        yield from self.write_json_rows("personalization/training_jobs.json", jobs())
        chosen = own_settings(user=self.user).first()
        if chosen is not None:
            self.counts["settings"] += 1
            yield from self.write_json(
                "personalization/settings.json",
                {"personal_weight": chosen.personal_weight, "updated_at": _iso(chosen.updated_at)},
            )

    def manifest(self) -> Iterator[bytes]:
        user = self.user
        yield from self.write_json(
            "manifest.json",
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "exported_at": _iso(self.now),
                "user": {
                    "id": user.pk,
                    "username": user.get_username(),
                    "email": user.email,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "role": user.role,
                    "date_joined": _iso(user.date_joined),
                    "organisation": {"id": user.tenant_id, "name": user.tenant.name},
                },
                "counts": self.counts,
                "files": list(self.files),
                "missing_sketches": self.missing_sketches,
            },
        )


def _parts(user: Any, now: datetime) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w") as zf:
        export = _Export(user, zf, pipe, now)
        yield from export.sessions()
        yield from export.feedback()
        yield from export.personalization()
        yield from export.manifest()
    yield pipe.drain()


def export_stream(*, user: Any, now: datetime | None = None) -> Iterator[bytes]:
    """The zip of everything of ``user``'s, as chunks of bytes (see the module docstring)."""
    _tenant_id(user)
    return (chunk for chunk in _parts(user, now or timezone.now()) if chunk)
