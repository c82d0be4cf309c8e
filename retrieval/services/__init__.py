"""Writes on image libraries, photos, index builds and searches: plain functions per entity.

- :mod:`.libraries` create / rename / delete a library
- :mod:`.images`    add photos (one, many, a zip, a server folder), label, remove
- :mod:`.indexing`  index jobs (the django-q2 task body) and the atomic index swap
- :mod:`.search`    run a sketch search and store the query with its results
- :mod:`.sessions`  search sessions
"""
