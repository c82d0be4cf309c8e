"""Routes. Each app owns two url modules: ``urls`` (pages) and ``api_urls`` (REST, under /api/).

A namespace is a public name (templates, scripts and clients use it), so code that moved up a
floor (docs/architecture.md) keeps the names it had: "Your data" (``psbir_site.user_data``,
which gathers from every app) is served in the accounts namespaces, and the search a user
runs (``personalization.search_urls``, which ranks retrieval's candidates for the user) in
retrieval's. :func:`namespace` joins such route lists into one namespace.

Every route that takes an object id must appear in the tenant-isolation matrix
(tests/test_isolation_matrix.py); the matrix fails on a route it does not know.
"""

from typing import Any

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api_urls as accounts_api_urls
from accounts import urls as accounts_urls
from personalization import search_urls
from psbir_site import views
from psbir_site.user_data import urls as user_data_urls
from retrieval import api_urls as retrieval_api_urls
from retrieval import urls as retrieval_urls


def namespace(name: str, *routes: list) -> Any:
    """``include()`` of several route lists as the one namespace ``name``."""
    return include(([route for listed in routes for route in listed], name))


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", namespace("accounts", accounts_urls.urlpatterns, user_data_urls.pages)),
    path("", namespace("retrieval", retrieval_urls.urlpatterns, search_urls.pages)),
    path("", include("personalization.urls")),
    path(
        "api/",
        namespace("accounts-api", accounts_api_urls.urlpatterns, user_data_urls.api),
    ),
    path("api/", namespace("retrieval-api", retrieval_api_urls.urlpatterns, search_urls.api)),
    path("api/", include("personalization.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
