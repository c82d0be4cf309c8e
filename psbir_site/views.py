"""Site-level pages: the landing page after login, the health check, the favicon."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from accounts.permissions import tenant_member_required


@tenant_member_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"tenant": request.user.tenant})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness, and whether this process's search model is loaded (``search_ready``)."""
    from retrieval.engine_runtime import search_state

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", **search_state()})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every page whatever the <link rel=icon> says."""
    response = HttpResponseRedirect(static("favicon.svg"))
    response["Cache-Control"] = "max-age=86400"
    return response
