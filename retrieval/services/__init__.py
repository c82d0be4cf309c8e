"""Writes on image libraries, photos, index builds and sessions: plain functions per entity.

- :mod:`.libraries` create / rename / delete a library
- :mod:`.images`    add photos (one, many, a zip, a server folder), label, remove
- :mod:`.indexing`  index jobs (the django-q2 task body) and the atomic index swap
- :mod:`.queries`   the general half of a search: what a query is searched with, and where
- :mod:`.sessions`  search sessions

The search a user runs (general candidates ranked for the user, stored) is composed one floor
up, in :mod:`personalization.services.search`.
"""
