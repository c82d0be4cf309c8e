"""Request bodies go to Django untouched when daphne serves the ASGI app.

Twisted's ``http.Request`` (daphne's ``WebRequest`` base) parses every multipart POST body
itself before daphne sees the request, only to fill ``request.args``, which daphne never
reads. On a body it cannot parse (``Content-Type: multipart/form-data; boundary=XX``, body
``--XX--\\r\\n``) it answers a bare ``400`` with no content type and closes the connection, so
neither Django nor the API's JSON errors ever get a say. Twisted has a switch for exactly
this, the request's ``_parsePOSTFormSubmission``; we turn it off for daphne's requests, and
Django's own parser (DRF's for the API) reads the body and answers the error in JSON.
"""

from __future__ import annotations

from typing import Any


def leave_bodies_to_django() -> bool:
    """Turn off Twisted's form parsing for daphne's requests (idempotent); False without daphne."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server: nothing parses bodies before Django
        return False
    if getattr(WebRequest, "_psbir_bodies_to_django", False):
        return True
    original_init = WebRequest.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    WebRequest.__init__ = __init__
    WebRequest._psbir_bodies_to_django = True
    return True
