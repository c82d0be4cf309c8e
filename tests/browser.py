"""Debian's chromium through Playwright, as every browser test launches it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser for the block (the test is skipped where chromium is missing)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, base: str, username: str, password: str, *, then: str = "/") -> None:
    """Sign in through the login form and wait for the page it leads to."""
    page.goto(f"{base}/accounts/login/" + (f"?next={then}" if then != "/" else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{then}")


def draw_circle(page: Any, selector: str = "#sketch-canvas") -> None:
    """Draw one closed circle with the mouse on the sketch canvas (a third of its width)."""
    import math

    canvas = page.locator(selector)
    canvas.wait_for()
    box = canvas.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 3
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for step in range(1, 41):
        angle = 2 * math.pi * step / 40
        page.mouse.move(cx + r * math.cos(angle), cy + r * math.sin(angle), steps=2)
    page.mouse.up()


def search_a_circle(page: Any, *, top_k: int, wait_for: str = "#results .result-card") -> None:
    """Draw a circle on the search page, ask for ``top_k`` results, wait for ``wait_for``."""
    draw_circle(page)
    page.fill("#top-k", str(top_k))
    page.click("[data-testid=search-button]")
    page.wait_for_selector(wait_for)
