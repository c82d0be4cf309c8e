"""The "Your data" pages: what PSBIR holds about you, download it all, delete it all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import tenant_member_required
from psbir_site.user_data import export as data_export
from psbir_site.user_data import services as user_data

ZIP_TYPE = "application/zip"


async def _pulled(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Serve a sync iterator to an ASGI server one chunk at a time.

    Django consumes a sync iterator whole (into a list) before an ASGI server sends any of
    it; pulling each chunk through ``sync_to_async`` keeps memory to one entry of the zip.
    The generator reads the database, so every step runs on the same (sync) thread.
    """
    done = object()
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, done)) is not done:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()


def export_response(request: HttpRequest) -> StreamingHttpResponse:
    """The signed-in user's zip, streamed; the export is audited as it starts."""
    user_data.data_export_record(user=request.user, actor=request.user)
    chunks = data_export.export_stream(user=request.user)
    # daphne (ASGI) in production, WSGI under runserver / the test client.
    is_asgi = getattr(request, "scope", None) is not None
    response = StreamingHttpResponse(_pulled(chunks) if is_asgi else chunks, content_type=ZIP_TYPE)
    filename = data_export.export_filename(user=request.user)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@tenant_member_required
def data_overview(request: HttpRequest) -> HttpResponse:
    summary = data_export.user_data_summary(user=request.user)
    return render(request, "accounts/data.html", {"summary": summary})


@require_GET
@tenant_member_required
def data_export_download(request: HttpRequest) -> StreamingHttpResponse:
    return export_response(request)


@require_http_methods(["GET", "POST"])
@tenant_member_required
def data_delete(request: HttpRequest) -> HttpResponse:
    """GET: the confirmation page listing what goes. POST: delete it."""
    if request.method == "POST":
        summary = user_data.user_data_delete(user=request.user, actor=request.user)
        if summary.is_empty:
            messages.info(request, "There was nothing of yours to delete.")
        else:
            messages.success(request, f"Deleted all your data: {summary.describe()}.")
        return redirect("accounts:data")
    summary = data_export.user_data_summary(user=request.user)
    return render(request, "accounts/data_delete.html", {"summary": summary})
