"""An automated accessibility check (axe-core, run in Chromium) of the pages people use.

axe-core comes from npm (``package.json``; ``scripts/test.sh`` runs ``npm ci`` first). Each
page is checked as a person reaches it, on the live server: the search page before and after
a search (with one result's "Why?" open; wide and 390 px wide), a session page, the session
list, the libraries list and a library page as the organisation's admin, and Django's admin
index as a platform superuser. A violation of impact "serious" or "critical" fails the test,
listed readably.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import global_settings

from accounts.models import User
from retrieval.models import ImageLibrary
from tests.browser import chromium, log_in, search_a_circle
from tests.e2e.test_search_browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    demo_member,
    private_dirs,
    server,
)
from tests.processes import REPO

AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


def axe_script() -> str:
    """The path of axe.min.js; a missing install fails the test (it must not pass unseen)."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"{AXE_SCRIPT.relative_to(REPO)} is missing: run `npm ci` at the repository root "
            "(scripts/test.sh does it) to install axe-core for the accessibility tests.",
            pytrace=False,
        )
    return str(AXE_SCRIPT)


def blocking_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=axe_script())
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    """One readable paragraph per violation: rule, impact, what to fix and where."""
    lines = [f"{where}: {len(violations)} serious or critical accessibility violation(s)"]
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:8]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {summary}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more element(s)")
    return "\n".join(lines)


@pytest.fixture
def org_admin(demo_member: User) -> User:  # noqa: F811
    """The admin of the demo member's organisation (password PASSWORD, default hashers)."""
    return User.objects.create_user(
        username="sketch-admin", password=PASSWORD, tenant=demo_member.tenant, role="admin"
    )


@pytest.fixture
def platform_superuser(settings: Any, demo_member: User) -> User:  # noqa: F811
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return User.objects.create_superuser(
        username="platform-root", password=PASSWORD, email="root@example.com"
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pages_have_no_serious_accessibility_violations(
    server: str,  # noqa: F811
    demo_member: User,  # noqa: F811
    org_admin: User,
    platform_superuser: User,
) -> None:
    # A missing axe-core fails the test (reported as FAILED, not skipped nor a setup error).
    axe_script()
    library = ImageLibrary.objects.get(tenant=demo_member.tenant)
    found: list[str] = []

    def check(page: Any, where: str) -> None:
        violations = blocking_violations(page)
        if violations:
            found.append(describe(where, violations))

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        log_in(page, server, demo_member.username, PASSWORD, then="/search/")
        page.locator("#sketch-canvas").wait_for()
        check(page, "search page")

        search_a_circle(page, top_k=4, wait_for="#results .result-card [data-pz-mark]")
        page.locator("#results .result-card [data-why]").first.click()
        page.wait_for_selector("#results .why-panel .why-terms")
        check(page, "search page after a search, one Why? open")

        # The same page on a phone's screen (one column, the menu behind its button).
        page.set_viewport_size({"width": 390, "height": 844})
        check(page, "search page after a search, 390 px wide")
        page.set_viewport_size({"width": 1280, "height": 1000})

        session_url = page.locator("#session-label a").get_attribute("href")
        page.goto(f"{server}{session_url}")
        page.wait_for_selector("[data-pz-mark]")
        check(page, "session page")
        page.goto(f"{server}/sessions/")
        check(page, "session list")
        page.context.clear_cookies()

        log_in(page, server, org_admin.username, PASSWORD, then="/libraries/")
        check(page, "libraries (organisation admin)")
        page.goto(f"{server}/libraries/{library.pk}/")
        check(page, "library page (organisation admin)")
        page.context.clear_cookies()

        log_in(page, server, platform_superuser.username, PASSWORD, then="/admin/")
        check(page, "Django admin index (superuser)")

    assert not found, "\n\n".join(found)
