"""More like this, why this result and before / after in a browser (Chromium, real engine).

Same set-up as test_search_browser (daphne on the test database, a small library indexed by
the shipped model): draw, search, open "Why?" on a result (the sketch drawn over the photo,
its distances and w), run "More like this" from a card, mark a photo, then "Compare now" on
the session page. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import chromium, log_in, search_a_circle
from tests.e2e.test_search_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    PASSWORD,
    demo_member,
    private_dirs,
    server,
)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_more_like_this_why_and_compare_in_the_browser(server, demo_member):  # noqa: F811

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")

        search_a_circle(page, top_k=4, wait_for="#results .result-card [data-why]")
        first = page.locator("#results .result-card").first
        sketch_query = page.evaluate("document.getElementById('results').dataset.queryId")

        # Why this result: the strokes over the photo and the terms of its score (a new
        # user has taught nothing: the general model's distance alone).
        first.locator("[data-why]").click()
        page.wait_for_selector("#results .why-panel canvas.why-strokes[data-ready='1']")
        ink = int(first.locator("canvas.why-strokes").first.get_attribute("data-ink"))
        assert ink > 100  # the drawn circle, in red over the photo
        general = first.locator("tr[data-why-fact=general]").get_attribute("data-value")
        assert float(general) == pytest.approx(
            float(first.locator(".distance").inner_text()), abs=1e-3
        )
        score = first.locator("tr[data-why-fact=distance]").get_attribute("data-value")
        assert float(score) == pytest.approx(float(general), abs=1e-3)
        assert first.locator("tr[data-why-fact=head]").count() == 0
        assert "no feedback of yours is close" in first.locator(".why-terms caption").inner_text()
        page.screenshot(path=str(ARTIFACTS / "why-this-result.png"), full_page=True)
        first.locator("[data-why]").click()  # toggles back to the thumbnail
        assert first.locator(".why-panel").is_hidden()

        # More like this, from the card: same session, the photo left out of its results.
        image_id = first.get_attribute("data-image-id")
        first.locator("[data-like]").click()
        page.wait_for_function(
            f"document.getElementById('results').dataset.queryId !== '{sketch_query}'"
        )
        page.wait_for_selector("#results .result-card")
        assert page.locator("#like-query").is_visible()
        shown = page.eval_on_selector_all(
            "#results .result-card", "cards => cards.map(c => c.dataset.imageId)"
        )
        assert shown and image_id not in shown
        page.screenshot(path=str(ARTIFACTS / "more-like-this.png"), full_page=True)

        # Mark the first photo of the sketch query's results on the session page, compare.
        session_url = page.locator("#session-label a").get_attribute("href")
        page.goto(f"{server}{session_url}")
        block = page.locator(f"[data-query-id='{sketch_query}']")
        block.locator("[data-pz-mark]").first.wait_for()
        block.locator("[data-pz-mark]").nth(1).click()
        page.wait_for_selector(f"[data-query-id='{sketch_query}'] [aria-pressed='true']")
        marked_image = block.locator("[data-result-id]").nth(1).get_attribute("data-image-id")
        assert page.locator("[data-compare]").count() == 2
        assert page.get_by_text("More like", exact=False).count() >= 1
        block.locator("[data-compare]").click()
        page.wait_for_selector("[data-testid=compare-columns]")
        assert page.locator(".cmp-column").count() == 3
        # The marked photo is highlighted in every column, with its rank then -> now.
        assert page.locator(".cmp-marked").count() == 3
        label = page.locator("[data-testid=rank-change]").first.inner_text()
        assert re.fullmatch(r"#2 -> #[12]", label), label
        page.screenshot(path=str(ARTIFACTS / "before-after.png"), full_page=True)

        # The same drawing again: the mark moved its photo, and "Why?" says so, with terms
        # that add up to the score; "forget" withdraws the marks of that search at once.
        page.goto(f"{server}/search/")
        search_a_circle(
            page, top_k=4, wait_for=f"#results .result-card[data-image-id='{marked_image}']"
        )
        card = page.locator(f"#results .result-card[data-image-id='{marked_image}']")
        card.locator("[data-why]").click()
        page.wait_for_selector("#results [data-testid=why-moved-by]")
        assert "You marked this photo" in card.locator("[data-testid=why-moved-by]").inner_text()
        products = [
            float(card.locator(f"tr[data-why-fact={name}]").get_attribute("data-value"))
            for name in ("general", "marks")
        ]
        score = float(card.locator("tr[data-why-fact=distance]").get_attribute("data-value"))
        assert sum(products) == pytest.approx(score, abs=1e-6)
        page.screenshot(path=str(ARTIFACTS / "why-moved-by.png"), full_page=True)
        card.locator("[data-testid=why-forget]").click()
        page.wait_for_function(
            "document.querySelector('[data-testid=why-forget]').textContent.includes('(1)')"
        )
