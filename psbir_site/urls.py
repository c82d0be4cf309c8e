"""Routes. Each app owns two url modules: ``urls`` (pages) and ``api_urls`` (REST, under /api/).

Every route that takes an object id must appear in the tenant-isolation matrix
(tests/test_isolation_matrix.py); the matrix fails on a route it does not know.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from psbir_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("retrieval.urls")),
    path("", include("personalization.urls")),
    path("api/", include("accounts.api_urls")),
    path("api/", include("retrieval.api_urls")),
    path("api/", include("personalization.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
