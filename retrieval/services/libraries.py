"""Creating, renaming and deleting image libraries."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Tenant
from psbir_site.text import clean_text
from retrieval import index_store
from retrieval.models import ImageLibrary, LibraryImage


def _clean_name(tenant_id: int, name: str, *, exclude_pk: int | None = None) -> str:
    if not (name or "").strip():
        raise ValidationError({"name": "A library needs a name."})
    name = clean_text(name, field="name", max_length=120)
    clash = ImageLibrary.objects.for_tenant(tenant_id).filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": f"Your organisation already has a library named {name!r}."})
    return name


@transaction.atomic
def library_create(*, tenant: Tenant, name: str, description: str = "") -> ImageLibrary:
    name = _clean_name(tenant.pk, name)
    description = clean_text(
        description, field="description", max_length=2000, allow_blank=True, multiline=True
    )
    return ImageLibrary.objects.create(tenant=tenant, name=name, description=description)


@transaction.atomic
def library_update(
    *, library: ImageLibrary, name: str | None = None, description: str | None = None
) -> ImageLibrary:
    fields = []
    if name is not None:
        library.name = _clean_name(library.tenant_id, name, exclude_pk=library.pk)
        fields.append("name")
    if description is not None:
        library.description = clean_text(
            description, field="description", max_length=2000, allow_blank=True, multiline=True
        )
        fields.append("description")
    if fields:
        library.save(update_fields=fields)
    return library


@transaction.atomic
def library_delete(*, library: ImageLibrary) -> None:
    """Delete the library, its photos and everything derived from them."""
    tenant_id, library_id = library.tenant_id, library.pk
    files = []
    for image in LibraryImage.objects.for_tenant(tenant_id).filter(library_id=library_id):
        files.extend(f for f in (image.photo, image.edge_map, image.thumbnail) if f)
    library.delete()

    def remove_files() -> None:
        for field_file in files:
            field_file.storage.delete(field_file.name)
        index_store.delete_library_files(tenant_id=tenant_id, library_id=library_id)

    # Files go only once the rows are gone for good: a rolled-back delete keeps them.
    transaction.on_commit(remove_files)
