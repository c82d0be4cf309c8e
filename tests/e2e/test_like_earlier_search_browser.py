""" "Drawing the same thing as one of these earlier searches?" in a browser (real engine).

Same set-up as test_search_browser (daphne on the test database, a small library indexed by
the shipped model). A user marks a photo for a circle, then draws a square: feedback is not
close enough to count there, so search offers the circle's search; "Yes" searches again with
it (the marked photo comes first), "Not the same" goes back to the measured closeness. With a
photo marked for the square too, a triangle (on a phone) is offered both searches, each with
its own yes.
"""

from __future__ import annotations

import pytest

from tests.browser import chromium, log_in, search_a_circle
from tests.e2e.test_accessibility import blocking_violations, describe
from tests.e2e.test_search_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    PASSWORD,
    demo_member,
    private_dirs,
    server,
)


def draw_square(page) -> None:
    canvas = page.locator("#sketch-canvas")
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        page.mouse.move(x, y, steps=10)
    page.mouse.up()


def draw_triangle(page) -> None:
    canvas = page.locator("#sketch-canvas")
    box = canvas.bounding_box()
    corners = [(0.5, 0.2), (0.8, 0.75), (0.2, 0.75), (0.5, 0.2)]
    points = [(box["x"] + box["width"] * x, box["y"] + box["height"] * y) for x, y in corners]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=10)
    page.mouse.up()


def shown_images(page) -> list[str]:
    return page.eval_on_selector_all(
        "#results .result-card", "cards => cards.map(c => c.dataset.imageId)"
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_new_drawing_can_use_what_an_earlier_search_taught(server, demo_member):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")

        search_a_circle(page, top_k=4, wait_for="#results .result-card [data-pz-mark]")
        circle_query = page.evaluate("document.getElementById('results').dataset.queryId")
        assert page.locator("#like-taught").is_hidden()  # nothing taught yet
        # The user means the photo the general model put last of four.
        last = page.locator("#results .result-card").nth(3)
        marked_image = last.get_attribute("data-image-id")
        last.locator("[data-pz-mark]").click()
        page.wait_for_selector("#results .result-card:nth-child(4) [aria-pressed='true']")

        page.click("[data-action=clear]")
        draw_square(page)
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            f"document.getElementById('results').dataset.queryId !== '{circle_query}'"
        )
        offer = page.locator("[data-testid=like-taught]")
        offer.wait_for()
        assert "Drawing the same thing" in offer.inner_text()
        src = page.locator("#like-taught-choices img").get_attribute("src")
        assert src.endswith(f"/{circle_query}/sketch")
        square_query = page.evaluate("document.getElementById('results').dataset.queryId")
        automatic = shown_images(page)
        page.screenshot(path=str(ARTIFACTS / "like-earlier-offer.png"), full_page=True)

        page.click("[data-testid=like-taught-button]")
        page.wait_for_function(
            "document.getElementById('like-taught-text').textContent.includes('You said')"
        )
        assert page.evaluate("document.getElementById('results').dataset.queryId") not in (
            circle_query,
            square_query,
        )
        assert shown_images(page)[0] == marked_image  # what the circle's search taught
        page.screenshot(path=str(ARTIFACTS / "like-earlier-yes.png"), full_page=True)

        page.click("[data-testid=like-taught-button]")  # "Not the same"
        page.wait_for_function(
            "document.getElementById('like-taught-text').textContent.includes('Drawing the same')"
        )
        assert shown_images(page) == automatic

        # A second subject: a photo marked for the square (not the circle's photo).
        square_again = page.evaluate("document.getElementById('results').dataset.queryId")
        cards = page.locator("#results .result-card")
        other = next(
            i
            for i in range(cards.count())
            if cards.nth(i).get_attribute("data-image-id") != marked_image
        )
        other_image = cards.nth(other).get_attribute("data-image-id")
        cards.nth(other).locator("[data-pz-mark]").click()
        page.wait_for_selector(
            f"#results .result-card:nth-child({other + 1}) [aria-pressed='true']"
        )

        # On a phone, a triangle is offered both earlier searches, each with its own yes.
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("[data-action=clear]")
        draw_triangle(page)
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            f"document.getElementById('results').dataset.queryId !== '{square_again}'"
            " && document.querySelectorAll('#like-taught-choices li').length === 2"
        )
        assert "one of these earlier searches" in offer.inner_text()
        offered = page.eval_on_selector_all(
            "#like-taught-choices button", "bs => bs.map(b => b.dataset.likeQuery)"
        )
        assert sorted(offered) == sorted([circle_query, square_again])
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        violations = blocking_violations(page)  # the offer as shown, with its buttons
        assert not violations, describe("search page with two offers", violations)
        page.screenshot(path=str(ARTIFACTS / "like-earlier-two-offers-phone.png"), full_page=True)
        page.click(f"#like-taught-choices button[data-like-query='{square_again}']")
        page.wait_for_function(
            "document.getElementById('like-taught-text').textContent.includes('You said')"
        )
        assert shown_images(page)[0] == other_image  # what the square's search taught
