"""The project's URLs without the retrieval and personalization apps (layout robustness test)."""

from django.contrib import admin
from django.urls import include, path

from accounts import urls as accounts_urls
from psbir_site import views
from psbir_site.user_data import urls as user_data_urls

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    # as psbir_site.urls routes them: the account pages with "Your data" in their namespace
    path("accounts/", include((accounts_urls.urlpatterns + user_data_urls.pages, "accounts"))),
]
