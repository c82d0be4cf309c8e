"""Routes of "Your data", in the accounts namespaces (see :mod:`psbir_site.user_data`).

``pages`` join ``accounts.urls`` under ``/accounts/`` and ``api`` joins ``accounts.api_urls``
under ``/api/``; :mod:`psbir_site.urls` puts them together.
"""

from django.urls import path

from psbir_site.user_data import apis, views

pages = [
    path("data/", views.data_overview, name="data"),
    path("data/export/", views.data_export_download, name="data-export"),
    path("data/delete/", views.data_delete, name="data-delete"),
]

api = [
    path("me/data/", apis.MeDataApi.as_view(), name="me-data"),
]
