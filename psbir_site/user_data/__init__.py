"""A person's own data across every app: what PSBIR holds, all of it as a zip, deleting it.

It gathers from retrieval (search sessions, queries, sketches) and personalization (feedback,
personalized heads, training jobs, w), so it sits on the site's top floor, above the apps it
reads (docs/architecture.md). Its pages and API keep the accounts namespaces they always had
(``accounts:data``, ``accounts:data-export``, ``accounts:data-delete``,
``accounts-api:me-data``, under ``/accounts/data/`` and ``/api/me/data/``):
:mod:`psbir_site.urls` adds :mod:`.urls` to them.

- :mod:`.export`    reads: the summary of what a user has, the streamed zip
- :mod:`.services`  writes: auditing an export, deleting the data, deleting the user with it
- :mod:`.views`     the "Your data" pages; :mod:`.apis` ``/api/me/data/``
- :mod:`.admin`     the Django admin's user deletion, which takes the user's data along
"""
