"""A page rendered by Django, opened in Chromium with the project's static files and no
server: for checks of what a person sees (layout) that need no live backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static"
TYPES = {".css": "text/css", ".js": "application/javascript", ".svg": "image/svg+xml"}


@contextmanager
def rendered_page(browser: Any, html: str, *, width: int = 1280) -> Iterator[Any]:
    """``html`` at http://psbir.test/ (static files from ``static/``; anything else 404)."""
    page = browser.new_page(viewport={"width": width, "height": 900})

    def handle(route: Any) -> None:
        path = route.request.url.split("psbir.test", 1)[1].split("?", 1)[0]
        if path == "/":
            return route.fulfill(status=200, content_type="text/html", body=html)
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            if file.is_file():
                return route.fulfill(
                    status=200,
                    content_type=TYPES.get(file.suffix, "application/octet-stream"),
                    body=file.read_bytes(),
                )
        return route.fulfill(status=404, body="")

    page.route("**/*", handle)
    page.goto("http://psbir.test/")
    try:
        yield page
    finally:
        page.close()
