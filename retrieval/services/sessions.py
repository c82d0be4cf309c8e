"""A user's search sessions: groups of sketches with their results, to come back to.

A session is titled automatically so that a list of them can be told apart: when it
started, what its first search was probably of, and how many searches it holds
("Dec. 3, 2026, 2:05 p.m. · probably a house · 3 searches"). The title follows the
session's searches until its owner renames it; renaming it to nothing gives the automatic
title back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from psbir_site.text import clean_text, printable
from retrieval.captions import photo_title
from retrieval.models import SearchResult, SearchSession, SketchQuery

TITLE_MAX_LENGTH = 120
# "Probably a house": the category most common among the first search's top results, when
# at least SUBJECT_MIN_VOTES of its SUBJECT_TOP results carry it (a labelled library).
SUBJECT_TOP = 10
SUBJECT_MIN_VOTES = 3


def probable_subject(categories: Sequence[str], *, far: bool = False) -> str:
    """ "probably a house" from the categories of a search's results, best first; "" when
    the results are unlabelled, split, or far from the drawing (nothing there is like it).

    A drawing is not known as a word; what its nearest photos are labelled is the honest
    proxy, so the title says "probably".
    """
    if far:
        return ""
    labels = [c.strip() for c in categories[:SUBJECT_TOP] if c and c.strip()]
    if not labels:
        return ""
    # most_common keeps first-seen order among ties: the better-ranked category wins.
    category, votes = Counter(labels).most_common(1)[0]
    if votes < SUBJECT_MIN_VOTES:
        return ""
    name = printable(category).replace("_", " ")
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"probably {article} {name}"


def compose_title(*, started: datetime, subject: str = "", searches: int = 0) -> str:
    """ "Dec. 3, 2026, 2:05 p.m. · probably a house · 3 searches" (the parts it knows)."""
    parts = [date_format(timezone.localtime(started), "DATETIME_FORMAT")]
    if subject:
        parts.append(subject)
    if searches:
        parts.append(f"{searches} search{'es' if searches != 1 else ''}")
    title = " · ".join(parts)
    return title if len(title) <= TITLE_MAX_LENGTH else title[: TITLE_MAX_LENGTH - 1] + "…"


def _first_subject(query: SketchQuery) -> str:
    """What the session's first query was of, as far as we know."""
    if query.kind == "photo":
        source = query.source_image
        return f"like “{photo_title(source)}”" if source is not None else "like a photo"
    from retrieval.engine.far_match import rule_for

    results = list(
        SearchResult.objects.for_tenant(query.tenant_id)
        .filter(query=query)
        .order_by("rank")
        .values_list("image__category", "general_distance")[:SUBJECT_TOP]
    )
    rule = rule_for(query.model_version)
    # The stored top K's best general distance (the search's own, unless a personal
    # ranking pushed it out of the top K): far results say nothing of the drawing.
    best = min((d for _, d in results), default=None)
    return probable_subject([c for c, _ in results], far=bool(rule and rule.is_far(best)))


def automatic_title(*, session: SearchSession) -> str:
    """The title the session's searches give it (see the module docstring)."""
    queries = SketchQuery.objects.for_tenant(session.tenant_id).filter(session=session)
    first = queries.select_related("source_image").order_by("id").first()
    return compose_title(
        started=session.created_at,
        subject=_first_subject(first) if first is not None else "",
        searches=queries.count(),
    )


def title_is_automatic(*, session: SearchSession) -> bool:
    """True unless the owner named the session (a title from before this scheme counts as
    automatic: "Dec. 1, 2026 · Demo clip art")."""
    title = session.title
    if not title or title == automatic_title(session=session):
        return True
    first = (
        SketchQuery.objects.for_tenant(session.tenant_id)
        .filter(session=session)
        .order_by("id")
        .first()
    )
    libraries = list(first.libraries.order_by("name")) if first is not None else []
    return title in (
        default_title(when=session.created_at),
        default_title(libraries=libraries, when=session.created_at),
    )


@transaction.atomic
def session_search_added(*, session: SearchSession, was_automatic: bool) -> SearchSession:
    """After a search joined ``session``: its automatic title follows (``was_automatic``,
    read before the search was added), and it becomes the most recently used."""
    fields = ["updated_at"]
    if was_automatic:
        session.title = automatic_title(session=session)
        fields.append("title")
    session.save(update_fields=fields)
    return session


def default_title(*, libraries: Sequence[Any] = (), when: datetime | None = None) -> str:
    """The title sessions were given before the automatic titles: its day, in the pages'
    date style, and the first library ("Dec. 1, 2026 · Demo clip art", "… and 2 more").

    Kept to recognise those titles as automatic (:func:`title_is_automatic`).
    """
    day = date_format(timezone.localtime(when or timezone.now()).date(), "DATE_FORMAT")
    names = [printable(library.name) for library in libraries]  # names from before the rule
    if not names:
        return day
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    title = f"{day} · {names[0]}"
    return title[: TITLE_MAX_LENGTH - len(more)] + more


def current_session(*, user: Any) -> SearchSession | None:
    """The user's most recently used session (where a search without ``session`` goes)."""
    return (
        SearchSession.objects.for_tenant(user.tenant_id)
        .filter(user=user)
        .order_by("-updated_at", "-id")
        .first()
    )


@transaction.atomic
def session_create(*, user: Any, title: str = "") -> SearchSession:
    """A new session of ``user``'s; a blank title is the automatic one (its start time)."""
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, allow_blank=True)
    session = SearchSession.objects.create(tenant_id=user.tenant_id, user=user, title=title)
    if not title:
        session.title = automatic_title(session=session)  # from its stored start time
        session.save(update_fields=["title"])
    return session


@transaction.atomic
def session_rename(*, session: SearchSession, title: str) -> SearchSession:
    """Name the session (printable text, trimmed); a blank title gives the automatic one back."""
    title = clean_text(title, field="title", max_length=TITLE_MAX_LENGTH, allow_blank=True)
    session.title = title or automatic_title(session=session)
    session.save(update_fields=["title", "updated_at"])
    return session


@transaction.atomic
def session_delete(*, session: SearchSession) -> None:
    """Delete the session with its queries and results (and their stored sketch images)."""
    files = [
        q.sketch_image
        for q in SketchQuery.objects.for_tenant(session.tenant_id).filter(session=session)
        if q.sketch_image
    ]
    session.delete()
    transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
