"""Site-level pages: the landing page after login and the health check."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.permissions import tenant_member_required


@tenant_member_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"tenant": request.user.tenant})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
