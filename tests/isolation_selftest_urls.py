"""A deliberately broken URLconf: the isolation matrix's self-tests prove their checks fail on it.

Never included by the project; used only through ``@pytest.mark.urls``.
"""

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import include, path

from accounts.models import User
from accounts.permissions import tenant_member_required


def _login_required(view):
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("/accounts/login/")
        return view(request, *args, **kwargs)

    return wrapper


def _row(user: User) -> dict:
    return {"id": user.pk, "username": user.username}


@_login_required
def leaky_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_row(get_object_or_404(User, pk=pk)))  # no tenant filter


@_login_required
def leaky_write(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)  # no tenant filter
    user.first_name = "written by someone else"
    user.save()
    raise Http404  # ...and it even answers 404


@tenant_member_required
def member_can_admin(request: HttpRequest, pk: int) -> JsonResponse:
    # Tenant-scoped, but registered as admin-only while any member may call it.
    return JsonResponse(_row(get_object_or_404(User, tenant=request.user.tenant, pk=pk)))


def open_to_anonymous(request: HttpRequest, pk: int) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"id": pk})
    return JsonResponse(_row(get_object_or_404(User, tenant=request.user.tenant, pk=pk)))


@tenant_member_required
def scoped_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_row(get_object_or_404(User, tenant=request.user.tenant, pk=pk)))


@_login_required
def leaky_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse([_row(u) for u in User.objects.all()], safe=False)


@tenant_member_required
def scoped_list(request: HttpRequest) -> JsonResponse:
    users = User.objects.filter(tenant=request.user.tenant)
    return JsonResponse([_row(u) for u in users], safe=False)


_created = iter(range(1, 10_000))


@_login_required
def leaky_create(request: HttpRequest) -> HttpResponse:
    tenant_id = request.POST.get("tenant") or request.user.tenant_id  # trusts the body
    User.objects.create_user(username=f"made-{next(_created)}", tenant_id=tenant_id)
    return HttpResponse(status=201)


@tenant_member_required
def scoped_create(request: HttpRequest) -> HttpResponse:
    User.objects.create_user(username=f"made-{next(_created)}", tenant=request.user.tenant)
    return HttpResponse(status=201)


selftest_patterns = (
    [
        path("leaky/<int:pk>/", leaky_detail, name="leaky-detail"),
        path("leaky-write/<int:pk>/", leaky_write, name="leaky-write"),
        path("member-can-admin/<int:pk>/", member_can_admin, name="member-can-admin"),
        path("open/<int:pk>/", open_to_anonymous, name="open-to-anonymous"),
        path("scoped/<int:pk>/", scoped_detail, name="scoped-detail"),
        path("leaky-list/", leaky_list, name="leaky-list"),
        path("scoped-list/", scoped_list, name="scoped-list"),
        path("leaky-create/", leaky_create, name="leaky-create"),
        path("scoped-create/", scoped_create, name="scoped-create"),
    ],
    "selftest",
)

urlpatterns = [
    path("selftest/", include(selftest_patterns)),
    path("unnamed/", scoped_list),
    path("accounts/", include("accounts.urls")),
]
