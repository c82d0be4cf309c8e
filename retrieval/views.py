"""Pages: the sketch search, a member's sessions, browsing libraries, and the admins' library
pages.

The search page talks to the REST API from static/js/search.js; the library pages are
plain forms (POST, then redirect) whose progress is updated live by static/js/libraries.js.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.permissions import tenant_admin_required, tenant_member_required
from retrieval import archives, labels, selectors
from retrieval.forms import ImageLabelForm, LabelsForm, LibraryForm, PhotoUploadForm, ZipUploadForm
from retrieval.models import LibraryImage
from retrieval.services import images as image_services
from retrieval.services import indexing
from retrieval.services import libraries as library_services
from retrieval.services import sessions as session_services
from retrieval.services.images import ImportOutcome

IMAGES_PER_PAGE = 60
BROWSE_PER_PAGE = 48


def page_query(**filters: str | None) -> str:
    """The filters a paged list keeps from page to page, as ``&name=value...`` (empty ones
    left out), for ``templates/_pager.html``."""
    kept = {name: value for name, value in filters.items() if value}
    return f"&{urlencode(kept)}" if kept else ""


def _form_errors(form: object) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)  # type: ignore[attr-defined]


# --- members -------------------------------------------------------------------------------


@tenant_member_required
def search(request: HttpRequest) -> HttpResponse:
    session = None
    if request.GET.get("session"):
        session = selectors.session_get(user=request.user, pk=request.GET["session"])
    redraw = None
    if request.GET.get("from"):
        redraw = selectors.query_get(user=request.user, pk=request.GET["from"], with_results=False)
    like = None
    if request.GET.get("like"):
        # "More like this" from a session or photo page: the page searches with it on load.
        like = selectors.image_get(tenant=request.user.tenant_id, pk=request.GET["like"])
    context = {
        "libraries": selectors.library_list(tenant=request.user.tenant_id),
        "session": session,
        "redraw": redraw,
        "like": like,
        "default_top_k": settings.PSBIR_DEFAULT_TOP_K,
        "max_top_k": settings.PSBIR_MAX_TOP_K,
        "max_upload_bytes": settings.PSBIR_MAX_UPLOAD_BYTES,
    }
    return render(request, "retrieval/search.html", context)


@tenant_member_required
def sessions(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.session_list(user=request.user), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "retrieval/sessions.html", {"page": page})


@tenant_member_required
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(user=request.user, pk=pk)
    queries = list(selectors.session_queries(session=session))
    # The same shape search.js sends with "psbir:results", so feedback marks hook in alike.
    result_events = [
        {
            "query_id": query.pk,
            "session_id": session.pk,
            "results": [
                {
                    "id": r.pk,
                    "image_id": r.image_id,
                    "rank": r.rank,
                    "distance": r.distance,
                    "general_distance": r.general_distance,
                    "personal_distance": r.personal_distance,
                }
                for r in query.ordered_results
            ],
        }
        for query in queries
    ]
    context = {"session": session, "queries": queries, "result_events": result_events}
    return render(request, "retrieval/session_detail.html", context)


@require_POST
@tenant_member_required
def session_rename(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(user=request.user, pk=pk)
    try:
        session_services.session_rename(session=session, title=request.POST.get("title", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Session renamed “{session.title}”.")
    return redirect("retrieval:session-detail", pk=pk)


@tenant_member_required
def browse(request: HttpRequest) -> HttpResponse:
    """The organisation's libraries, to see what each holds before drawing."""
    libraries = selectors.library_browse_list(tenant=request.user.tenant_id)
    return render(request, "retrieval/browse.html", {"libraries": libraries})


@tenant_member_required
def library_browse(request: HttpRequest, pk: int) -> HttpResponse:
    """A library's searchable photos, paged, with its categories and their counts."""
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    unlabelled = request.GET.get("unlabelled") == "1"
    category = "" if unlabelled else request.GET.get("category", "")
    counts = selectors.library_category_counts(library=library)
    images = selectors.library_browse_images(
        library=library, category=category or None, unlabelled=unlabelled
    )
    page = Paginator(images, BROWSE_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "library": library,
        "page": page,
        "category": category,
        "unlabelled": unlabelled,
        "page_query": page_query(category=category, unlabelled="1" if unlabelled else ""),
        "categories": [(name, n) for name, n in counts if name],
        "unlabelled_count": sum(n for name, n in counts if not name),
        "total": sum(n for _, n in counts),
    }
    return render(request, "retrieval/library_browse.html", context)


# --- admins: libraries -----------------------------------------------------------------------


@tenant_admin_required
def libraries(request: HttpRequest) -> HttpResponse:
    form = LibraryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            library = library_services.library_create(
                tenant=request.user.tenant, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Library “{library.name}” created. Add photos below.")
            return redirect("retrieval:library-detail", pk=library.pk)
    context = {"libraries": selectors.library_list(tenant=request.user.tenant_id), "form": form}
    return render(request, "retrieval/libraries.html", context)


@tenant_admin_required
def library_detail(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    status = request.GET.get("status") or None
    query = request.GET.get("q") or None
    images = selectors.image_list(library=library, status=status, search=query)
    page = Paginator(images, IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "library": library,
        "page": page,
        "status": status or "",
        "q": query or "",
        "page_query": page_query(q=query, status=status),
        "statuses": LibraryImage.Status.choices,
        "jobs": selectors.job_list(library=library)[:5],
        "edit_form": LibraryForm(
            initial={"name": library.name, "description": library.description}
        ),
        "upload_form": PhotoUploadForm(),
        "zip_form": ZipUploadForm(),
        "labels_form": LabelsForm(),
        "max_upload_bytes": settings.PSBIR_MAX_UPLOAD_BYTES,
        "max_zip_bytes": settings.PSBIR_MAX_ZIP_BYTES,
    }
    return render(request, "retrieval/library_detail.html", context)


@require_POST
@tenant_admin_required
def library_edit(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    form = LibraryForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
    else:
        try:
            library_services.library_update(library=library, **form.cleaned_data)
            messages.success(request, "Library saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("retrieval:library-detail", pk=pk)


@require_POST
@tenant_admin_required
def library_delete(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    name = library.name
    library_services.library_delete(library=library)
    messages.success(request, f"Library “{name}” and its photos were deleted.")
    return redirect("retrieval:libraries")


def refusal_summary(failures: list[dict[str, str]]) -> str:
    """The banner for refused files: how many, and where each is listed with its reason (the
    import job's row below; naming them here too showed every refusal twice)."""
    count = len(failures)
    return (
        f"{count} file{'s' if count != 1 else ''} refused: "
        f"{'each is' if count != 1 else 'it is'} listed with the reason under the import job below."
    )


def _report_import(request: HttpRequest, outcome: ImportOutcome) -> None:
    added, failed = len(outcome.added), len(outcome.failures)
    if added:
        messages.success(request, f"{added} photo(s) added; indexing runs in the background.")
    if failed:
        messages.error(request, refusal_summary(outcome.failures))
    for problem in outcome.label_problems[:5]:
        messages.warning(request, f"Labels: {problem}")


@require_POST
@tenant_admin_required
def library_upload(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    form = PhotoUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("retrieval:library-detail", pk=pk)
    values = form.cleaned_data
    outcome = image_services.images_import(
        library=library,
        items=image_services.uploads_as_items(values["files"]),
        defaults={k: values[k] for k in ("category", "subcategory") if values.get(k)},
        user=request.user,
    )
    _report_import(request, outcome)
    return redirect("retrieval:library-detail", pk=pk)


@require_POST
@tenant_admin_required
def library_upload_zip(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    form = ZipUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("retrieval:library-detail", pk=pk)
    archive, labels_file = form.cleaned_data["archive"], form.cleaned_data.get("labels")
    try:
        outcome = image_services.library_import_zip(
            library=library,
            archive=archive,
            archive_size=archive.size,
            labels_csv=labels_file.read() if labels_file else None,
            user=request.user,
        )
    except (archives.ArchiveRejected, labels.LabelsRejected) as exc:
        messages.error(request, str(exc))
    else:
        _report_import(request, outcome)
    return redirect("retrieval:library-detail", pk=pk)


@require_POST
@tenant_admin_required
def library_labels(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    form = LabelsForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("retrieval:library-detail", pk=pk)
    try:
        outcome = image_services.labels_import_csv(
            library=library, data=form.cleaned_data["labels"].read()
        )
    except labels.LabelsRejected as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Labels set on {outcome.updated} photo(s).")
        if outcome.unmatched:
            names = ", ".join(outcome.unmatched[:10])
            messages.warning(
                request, f"{len(outcome.unmatched)} row(s) name no photo here: {names}"
            )
        for problem in outcome.problems[:5]:
            messages.warning(request, problem)
    return redirect("retrieval:library-detail", pk=pk)


@require_POST
@tenant_admin_required
def library_reindex(request: HttpRequest, pk: int) -> HttpResponse:
    library = selectors.library_get(tenant=request.user.tenant_id, pk=pk)
    indexing.library_reindex(library=library, user=request.user)
    messages.success(
        request, "Re-indexing started. Searches use the current index until the new one is ready."
    )
    return redirect("retrieval:library-detail", pk=pk)


# --- admins: photos ------------------------------------------------------------------------


@tenant_admin_required
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = selectors.image_get(tenant=request.user.tenant_id, pk=pk)
    form = ImageLabelForm(
        initial={
            "category": image.category,
            "subcategory": image.subcategory,
            "caption": image.caption,
        }
    )
    context = {
        "image": image,
        "form": form,
        # What the served index and trunk-map cache hold for it ("why" on a library photo).
        "index_entry": selectors.image_index_entry(image=image),
    }
    return render(request, "retrieval/image_detail.html", context)


@require_POST
@tenant_admin_required
def image_label(request: HttpRequest, pk: int) -> HttpResponse:
    image = selectors.image_get(tenant=request.user.tenant_id, pk=pk)
    form = ImageLabelForm(request.POST)
    if form.is_valid():
        image_services.image_label(image=image, **form.cleaned_data)
        messages.success(request, "Labels saved.")
    else:
        messages.error(request, _form_errors(form))
    return redirect("retrieval:image-detail", pk=pk)


@require_POST
@tenant_admin_required
def image_delete(request: HttpRequest, pk: int) -> HttpResponse:
    image = selectors.image_get(tenant=request.user.tenant_id, pk=pk)
    library_id = image.library_id
    image_services.image_delete(image=image)
    messages.success(request, "Photo removed from the library and its index.")
    return redirect("retrieval:library-detail", pk=library_id)
