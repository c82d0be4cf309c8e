"""The search page on a phone, by keyboard alone, and with a result's "Why?" open (Chromium).

Same set-up as test_search_browser (daphne on the test database, five shapes indexed by the
real engine):

- a phone (390 x 844, touch): drawing with a finger and tapping Search brings the results
  heading into view with focus on it, the sketch is one tap away, and every result card's
  controls are labelled, named for their photo and fit the card in at most two rows;
- the keyboard alone: the canvas takes focus (with a name and instructions) and draws with
  the arrow keys, "Upload sketch" is reachable, a search moves focus to the results heading,
  and every result control is reached by Tab with a name no other control has;
- "Why?" open on a card: the panel spans the grid under the card's row, and no card of that
  row or the next changes size or leaves its column (no hole in the grid).

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import chromium, log_in, search_a_circle
from tests.e2e.test_search_browser import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    PASSWORD,
    demo_member,
    private_dirs,
    server,
)
from tests.retrieval.fakes import shape_png

PHONE = {"width": 390, "height": 844}
TOPBAR_PX = 56  # app.css --topbar-h: the sticky bar covers the top of the viewport
CONTROL_NAMES = ("More like this", "Why", "I meant this")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _touch_circle(page: Any) -> None:
    """Draw a circle on the canvas with one finger (real touch events through CDP)."""
    box = page.locator("#sketch-canvas").bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 3
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, x: float | None = None, y: float | None = None) -> None:
        points = [] if x is None else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", cx + r, cy)
    for step in range(1, 41):
        angle = 2 * math.pi * step / 40
        touch("touchMove", cx + r * math.cos(angle), cy + r * math.sin(angle))
    touch("touchEnd")
    # A person's next tap comes later; a tap at once would be taken as a double tap's second
    # (Chrome then sends no click).
    page.wait_for_timeout(800)


def _is_focused(locator: Any) -> bool:
    return locator.evaluate("e => e === document.activeElement")


def _tab_to(page: Any, predicate_js: str, *, limit: int = 60, key: str = "Tab") -> None:
    """Press Tab until the focused element satisfies ``predicate_js`` (a JS function of it)."""
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"({predicate_js})(document.activeElement)"):
            return
    focused = page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{limit} x {key} never reached {predicate_js}; focus is on {focused}")


def _photo_name(card: Any) -> str:
    return card.locator(".name").inner_text().strip()


def _in_viewport(box: dict[str, float], viewport: dict[str, int]) -> bool:
    return box["y"] >= TOPBAR_PX - 1 and box["y"] + box["height"] <= viewport["height"] + 1


def test_phone_search_shows_results_with_compact_named_controls(server, demo_member):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        context = browser.new_context(
            viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")

        _touch_circle(page)
        assert page.evaluate("window.PSBIR.sketch.strokes.length") == 1
        page.fill("#top-k", "5")
        page.locator("[data-testid=search-button]").tap()
        page.wait_for_selector("#results .result-card [data-pz-mark]")

        # Tapping Search shows its outcome: the results heading (focused) and the first
        # cards are on the screen, not ~1,400 px below under the personalization panel.
        heading = page.get_by_role("heading", name="Results")
        expect(heading).to_be_focused()
        assert _in_viewport(heading.bounding_box(), PHONE), heading.bounding_box()
        first = page.locator("#results .result-card").first
        assert first.bounding_box()["y"] < PHONE["height"] - 100, first.bounding_box()
        page.screenshot(path=str(ARTIFACTS / "phone-after-search.png"))

        # Nothing runs off the side of a 390 px screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        cards = page.locator("#results .result-card")
        assert cards.count() == 5
        for index in range(cards.count()):
            card = cards.nth(index)
            name = _photo_name(card)
            box = card.bounding_box()
            buttons = card.locator(".result-tools button, [data-pz-mark]")
            assert buttons.count() == 3
            rows = set()
            for b in range(3):
                button = buttons.nth(b)
                b_box = button.bounding_box()
                # Inside the card, tall enough to tap, on at most two rows.
                assert b_box["x"] >= box["x"] - 0.5, (name, b, b_box, box)
                assert b_box["x"] + b_box["width"] <= box["x"] + box["width"] + 0.5
                assert b_box["height"] >= 24, (name, b, b_box)
                rows.add(round(b_box["y"]))
            assert len(rows) <= 2, f"{name}: its 3 controls stack on {len(rows)} rows"
            # Labelled: each control's accessible name says what it does and to which photo.
            for label in CONTROL_NAMES:
                named = card.get_by_role("button", name=re.compile(re.escape(label)))
                assert named.count() == 1, (name, label)
                assert name in named.get_attribute("aria-label"), (name, label)

        # The sketch stays one tap away, to change the drawing and search again.
        page.get_by_role("button", name="Change the sketch").tap()
        page.wait_for_function(
            "() => { const r = document.getElementById('sketch-canvas')"
            ".getBoundingClientRect(); return r.top >= 55 && r.bottom <= innerHeight + 1; }"
        )
        assert _in_viewport(page.locator("#sketch-canvas").bounding_box(), PHONE)
        page.screenshot(path=str(ARTIFACTS / "phone-back-to-sketch.png"))
        context.close()


def test_keyboard_alone_draws_searches_and_reaches_named_controls(server, demo_member):  # noqa: F811
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")
        canvas = page.locator("#sketch-canvas")

        # The canvas takes focus, has a name and says how to draw with keys.
        _tab_to(page, "e => e.id === 'sketch-canvas'")
        expect(canvas).to_have_accessible_name(re.compile("sketch", re.I))
        expect(canvas).to_have_accessible_description(re.compile("arrow keys", re.I))
        page.keyboard.press("Space")  # pen down
        for key in ["Shift+ArrowRight"] * 8 + ["Shift+ArrowDown"] * 8 + ["Shift+ArrowLeft"] * 8:
            page.keyboard.press(key)
        page.keyboard.press("Space")  # pen up
        strokes = page.evaluate("window.PSBIR.sketch.toPayload().strokes")
        assert len(strokes) == 1 and len(strokes[0]["points"]) >= 4, strokes
        assert not page.evaluate("window.PSBIR.sketch.isEmpty()")
        assert page.evaluate("window.scrollY") == 0  # arrows drew; the page did not scroll

        _tab_to(page, "e => e.id === 'top-k'")
        page.keyboard.press("Control+A")
        page.keyboard.type("4")
        _tab_to(page, "e => e.id === 'search-button'")
        page.keyboard.press("Enter")
        page.wait_for_selector("#results .result-card [data-pz-mark]")

        # Focus moves to the results heading (not to the page body).
        expect(page.get_by_role("heading", name="Results")).to_be_focused()

        # Tab reaches every control of every card; each is named for its photo, uniquely.
        cards = page.locator("#results .result-card")
        assert cards.count() == 4
        controls = page.locator("#results .result-card button")
        assert controls.count() == 12
        page.evaluate("window.__tabbed = new Set()")
        last = controls.last
        for _ in range(80):
            page.keyboard.press("Tab")
            page.evaluate("window.__tabbed.add(document.activeElement)")
            if _is_focused(last):
                break
        unreached = controls.evaluate_all(
            "els => els.filter(e => !window.__tabbed.has(e)).map(e => e.outerHTML.slice(0, 120))"
        )
        assert not unreached, unreached
        names = re.findall(r'\bbutton "([^"]*)"', page.locator("#results").aria_snapshot())
        assert len(names) == 12 and len(set(names)) == 12, names
        for index in range(4):
            photo = _photo_name(cards.nth(index))
            assert sum(photo in name for name in names) >= 3, (photo, names)

        # "Why?" by keyboard: a disclosure that says it is open.
        second = cards.nth(1)
        why = second.locator("[data-why]")
        why.focus()
        page.keyboard.press("Enter")
        expect(why).to_have_attribute("aria-expanded", "true")
        expect(second.locator(".why-panel .why-terms")).to_be_visible()
        expect(why).to_be_focused()


def test_upload_sketch_is_reachable_by_keyboard(server, demo_member):  # noqa: F811
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")
        # A listener switches Playwright's file chooser interception on now, well before the
        # key press (turned on only by expect_file_chooser, it can come too late).
        page.on("filechooser", lambda chooser: None)
        _tab_to(page, "e => e !== document.body && /^upload sketch/i.test(e.textContent.trim())")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(
            files=[{"name": "circle.png", "mimeType": "image/png", "buffer": shape_png("circle")}]
        )
        expect(page.locator("#sketch-status")).to_contain_text("uploaded image circle.png")
        _tab_to(page, "e => e.id === 'search-button'")
        page.keyboard.press("Enter")
        page.wait_for_selector("#results .result-card")
        expect(page.get_by_role("heading", name="Results")).to_be_focused()


def _boxes(page: Any) -> list[dict[str, float]]:
    return page.eval_on_selector_all(
        "#results .result-card",
        "cards => cards.map(c => { const r = c.getBoundingClientRect();"
        " return {x: r.x, y: r.y + scrollY, width: r.width, height: r.height}; })",
    )


def _panel_box(page: Any, card_index: int) -> dict[str, float]:
    return (
        page.locator("#results .result-card")
        .nth(card_index)
        .locator(".why-panel")
        .evaluate(
            "p => { const r = p.getBoundingClientRect();"
            " return {x: r.x, y: r.y + scrollY, width: r.width, height: r.height}; }"
        )
    )


def _assert_close(a: dict[str, float], b: dict[str, float], what: str) -> None:
    for key in ("x", "width", "height"):
        assert abs(a[key] - b[key]) <= 1, f"{what}: {key} {b[key]} -> {a[key]}"


def test_an_open_why_panel_leaves_no_hole_in_the_grid(server, demo_member):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")
        search_a_circle(page, top_k=5, wait_for="#results .result-card [data-pz-mark]")
        grid = page.locator("#results").bounding_box()
        before = _boxes(page)
        # Two columns on a phone: rows (#1 #2) (#3 #4) (#5).
        assert before[0]["y"] == before[1]["y"] and before[2]["y"] == before[3]["y"]
        row_gap = before[2]["y"] - (before[0]["y"] + before[0]["height"])

        cards = page.locator("#results .result-card")
        cards.nth(1).locator("[data-why]").click()  # the right-hand card of the first row
        page.wait_for_selector("#results .why-panel .why-terms")
        page.wait_for_function(
            "[...document.querySelectorAll('#results .why-panel img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        page.wait_for_timeout(200)  # the panel's size settles after its images
        after = _boxes(page)
        panel = _panel_box(page, 1)
        page.screenshot(path=str(ARTIFACTS / "phone-why-open.png"), full_page=True)

        # The first row is untouched: neither card grows, nor moves.
        for index in (0, 1):
            _assert_close(after[index], before[index], f"card #{index + 1}")
            assert abs(after[index]["y"] - before[index]["y"]) <= 1, f"card #{index + 1} moved"
        # The panel spans the grid right under that row, and the next row follows it at once,
        # in the same columns with the same sizes (no hole, nothing overlapped).
        row_bottom = before[0]["y"] + before[0]["height"]
        assert abs(panel["x"] - grid["x"]) <= 1 and abs(panel["width"] - grid["width"]) <= 1
        assert panel["y"] >= row_bottom - 1, (panel, row_bottom)
        assert after[2]["y"] >= panel["y"] + panel["height"] - 1, (after[2], panel)
        assert after[2]["y"] - row_bottom <= panel["height"] + 2 * row_gap + 2, (after, panel)
        for index in (2, 3, 4):
            _assert_close(after[index], before[index], f"card #{index + 1}")
        assert after[2]["y"] == after[3]["y"]

        # A second panel in the same row stacks under the first one; neither covers a card.
        cards.nth(0).locator("[data-why]").click()
        page.wait_for_function("document.querySelectorAll('#results .why-terms').length === 2")
        page.wait_for_timeout(200)
        first_panel, second_panel = _panel_box(page, 0), _panel_box(page, 1)
        top, bottom = sorted([first_panel, second_panel], key=lambda box: box["y"])
        assert bottom["y"] >= top["y"] + top["height"] - 1, (top, bottom)
        assert _boxes(page)[2]["y"] >= bottom["y"] + bottom["height"] - 1

        # Wider screen: the grid reflows into one row and the panels follow it.
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.wait_for_timeout(200)
        wide = _boxes(page)
        assert len({round(box["y"]) for box in wide}) == 1, wide
        assert len({round(box["height"]) for box in wide}) == 1, wide
        for index in (0, 1):
            box = _panel_box(page, index)
            assert box["y"] >= wide[0]["y"] + wide[0]["height"] - 1, (box, wide[0])
        page.screenshot(path=str(ARTIFACTS / "desktop-why-open.png"), full_page=True)

        # Closed again, the grid is as it was.
        cards.nth(0).locator("[data-why]").click()
        cards.nth(1).locator("[data-why]").click()
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(200)
        for index, box in enumerate(_boxes(page)):
            _assert_close(box, before[index], f"card #{index + 1} after closing")
            assert abs(box["y"] - before[index]["y"]) <= 1, f"card #{index + 1} after closing"
        context.close()
