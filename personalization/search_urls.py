"""Routes of the search a user runs, named in retrieval's namespaces.

The search and before / after moved up to personalization (they compose the general search
with the personal ranking), but their paths and names are public and stay as they were:
``retrieval:query-compare`` (``/queries/<id>/compare/``), ``retrieval-api:search``
(``/api/search/``) and ``retrieval-api:query-compare`` (``/api/queries/<id>/compare/``).
psbir_site.urls adds ``pages`` to ``retrieval.urls`` and ``api`` to ``retrieval.api_urls``.
"""

from django.urls import path

from personalization import search_apis, search_views

pages = [
    path("queries/<int:pk>/compare/", search_views.query_compare, name="query-compare"),
]

api = [
    path("search/", search_apis.SearchApi.as_view(), name="search"),
    path(
        "queries/<int:pk>/compare/",
        search_apis.QueryCompareApi.as_view(),
        name="query-compare",
    ),
]
