"""The project's URLs without the retrieval and personalization apps (layout robustness test)."""

from django.contrib import admin
from django.urls import include, path

from psbir_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
]
