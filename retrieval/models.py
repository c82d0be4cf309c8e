"""Image libraries, their photos, index builds, and the searches people run on them.

The database is the source of truth; edge maps, trunk-map caches, vectors and FAISS indexes are
derived data, rebuildable from the stored photo and the model version recorded beside them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from pgvector.django import HalfVectorField

from accounts.models import Tenant, TenantOwnedModel, TenantQuerySet
from psbir_site.models import LeasedJob

# The general models' descriptor size (both heads end in 512-d, eq. 6).
VECTOR_DIM = 512


def _photo_upload_path(instance: LibraryImage, filename: str) -> str:
    # Opaque, tenant-scoped paths; media are only served through tenant-checking views.
    return f"tenants/{instance.tenant_id}/libraries/{instance.library_id}/photos/{filename}"


def _edge_upload_path(instance: LibraryImage, filename: str) -> str:
    return f"tenants/{instance.tenant_id}/libraries/{instance.library_id}/edges/{filename}"


def _thumb_upload_path(instance: LibraryImage, filename: str) -> str:
    return f"tenants/{instance.tenant_id}/libraries/{instance.library_id}/thumbs/{filename}"


def _sketch_upload_path(instance: SketchQuery, filename: str) -> str:
    return f"tenants/{instance.tenant_id}/sketches/{filename}"


class ImageLibrary(TenantOwnedModel):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # The general model version the served index was built with ("" = no index yet).
    model_version = models.CharField(max_length=80, blank=True)
    # The served FAISS file, relative to PSBIR_INDEX_DIR. Index files are never rewritten in
    # place: a build writes a new file and this pointer moves in one transaction.
    index_file = models.CharField(max_length=300, blank=True)
    index_size = models.PositiveIntegerField(default=0)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # Which vector store holds the served vectors ("faiss" files or "pgvector" rows; "" =
    # none yet). A library held by another store than the configured one is re-indexed
    # before it is searched, as one of another model version is (retrieval.vector_stores).
    index_engine = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="unique_library_name_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LibraryImage(TenantOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be indexed"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"

    library = models.ForeignKey(ImageLibrary, on_delete=models.CASCADE, related_name="images")
    photo = models.ImageField(upload_to=_photo_upload_path, max_length=300)
    edge_map = models.ImageField(upload_to=_edge_upload_path, max_length=300, blank=True)
    thumbnail = models.ImageField(upload_to=_thumb_upload_path, max_length=300, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    caption = models.CharField(max_length=300, blank=True)
    # Labels used by personalization (eq. 9): parent (shape) category and sub-category.
    category = models.CharField(max_length=120, blank=True, db_index=True)
    subcategory = models.CharField(max_length=120, blank=True, db_index=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    # Model version of the cached trunk maps / general vector of this photo.
    model_version = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["library", "status"])]

    def __str__(self) -> str:
        return self.original_name or f"image {self.pk}"


class PhotoVector(models.Model):
    """A photo's general vector in PostgreSQL (pgvector), for the scale-out profile.

    The table exists only where the ``vector`` extension does (migration 0006); only
    :mod:`retrieval.vector_stores.pgvector_store` reads or writes it. Its foreign keys are
    ``ON DELETE CASCADE`` in the database itself (not Django's collector, which would query a
    table SQLite does not have): a vector goes with its photo, library or organisation.
    """

    image = models.OneToOneField(
        LibraryImage,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        primary_key=True,
        related_name="+",
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    library = models.ForeignKey(
        ImageLibrary, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # halfvec(512): half the size of vector(512) and of its HNSW index; recall measured by
    # ``manage.py scale_benchmark --engine pgvector``.
    vector = HalfVectorField(dimensions=VECTOR_DIM)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["library"], name="photovector_library")]

    def __str__(self) -> str:
        return f"vector of image {self.image_id}"


class IndexJob(TenantOwnedModel, LeasedJob):
    """One import or re-index run over a library, with its progress."""

    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        REINDEX = "reindex", "Re-index"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    library = models.ForeignKey(ImageLibrary, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # [{"name": "...", "error": "..."}] for every rejected or failed file.
    failures = models.JSONField(default=list, blank=True)
    model_version = models.CharField(max_length=80, blank=True)
    # The photos an import job indexes (a re-index takes every photo of the library).
    image_ids = models.JSONField(default=list, blank=True)
    # Why the whole job stopped, when it did (e.g. the general model is not installed).
    message = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class IndexChunk(TenantOwnedModel, LeasedJob):
    """One slice of a large index job's photos (``PSBIR_INDEX_CHUNK_SIZE``): every chunk is
    a task of its own, so several workers index one library in parallel; a chunk whose
    worker died is taken over by another (its lease), resuming after its last saved batch."""

    job = models.ForeignKey(IndexJob, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    image_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=10, choices=IndexJob.Status.choices, default=IndexJob.Status.QUEUED
    )
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)
    # False when its vectors could not join the served ones (another model version or
    # store): the job then rebuilds them all once every chunk is done.
    added = models.BooleanField(default=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="unique_chunk_number_per_job")
        ]

    def __str__(self) -> str:
        return f"chunk {self.number} of index job {self.job_id}"


class SearchSession(TenantOwnedModel):
    """A user's group of sketches, their results and feedback, to come back to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_sessions"
    )
    title = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"Session #{self.pk}"


class SketchQuery(TenantOwnedModel):
    """One submitted sketch (or library photo, for "more like this") and its search settings."""

    session = models.ForeignKey(SearchSession, on_delete=models.CASCADE, related_name="queries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sketch_queries"
    )
    libraries = models.ManyToManyField(ImageLibrary, related_name="+")
    strokes = models.JSONField(null=True, blank=True)
    # "More like this": the library photo that was the query instead of a sketch (its stored
    # vector and trunk map were searched with; ``sketch_image`` keeps a copy of its thumbnail).
    source_image = models.ForeignKey(
        LibraryImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sketch_image = models.ImageField(upload_to=_sketch_upload_path, max_length=300, blank=True)
    # Trunk map of the binarised sketch (float16, e.g. 208x8x8 for Lite2), kept so a
    # personalized head can be trained from this query without re-running the trunk.
    features = models.BinaryField(null=True, blank=True)
    # The general vector the index was asked with (float32): a sketch's averaged with its
    # mirror image's (a photo's own), expanded with its nearest photos. Feedback given on
    # this query applies to later searches as far as they are close to it
    # (personalization.engine.closeness).
    vector = models.BinaryField(null=True, blank=True)
    top_k = models.PositiveIntegerField(default=20)
    personal_weight = models.FloatField(default=0.0)
    model_version = models.CharField(max_length=80, blank=True)
    personal_head_version = models.PositiveIntegerField(null=True, blank=True)
    # How close this query was to the nearest query the user's feedback answered (0: none
    # close, or w = 0, so nothing of the user's was read: the general ranking), and that query.
    closeness = models.FloatField(default=0.0)
    nearest_taught = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The taught queries offered as "drawing the same thing as one of these earlier
    # searches?" when saying yes would change the ranking (the nearest of each of the
    # nearest subjects, nearest first); and the earlier query the user said this one is
    # like (its subject's feedback then counts fully).
    suggested_taught_ids = models.JSONField(default=list, blank=True)
    like_query = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    @property
    def suggested_taught_id(self) -> int | None:
        """The nearest offered query (None: nothing was offered)."""
        return int(self.suggested_taught_ids[0]) if self.suggested_taught_ids else None

    @property
    def kind(self) -> str:
        """``strokes`` (drawn on the canvas), ``sketch`` (an uploaded image) or ``photo``
        (more like this; a photo query keeps its photo's JPEG thumbnail as its picture, so
        it stays one after the photo was deleted)."""
        if self.source_image_id is not None or (
            self.strokes is None and self.sketch_image.name.endswith(".jpg")
        ):
            return "photo"
        return "strokes" if self.strokes is not None else "sketch"


class SearchResult(TenantOwnedModel):
    query = models.ForeignKey(SketchQuery, on_delete=models.CASCADE, related_name="results")
    image = models.ForeignKey(LibraryImage, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    distance = models.FloatField()
    general_distance = models.FloatField()
    personal_distance = models.FloatField(null=True, blank=True)
    # The terms ``distance`` adds up from: {"general": [share, d], "head": [share, d],
    # "marks": [share, d], "mark": {"image_id", "query_id"}} (personalization.ranking).
    terms = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["query", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["query", "rank"], name="unique_rank_per_query")
        ]
