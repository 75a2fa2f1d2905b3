"""Easy Read pages (issue 13): which template a person page uses, and the switch on each page.

A person who chose Easy Read (``PersonProfile.easy_read``, see :mod:`web.services.easy_read`)
gets the Easy Read template of a journey page, ``person/easy_read/<page>.html``, where there is
one; every other page stays as it is. The view is the same: it gathers the same data and
hands both templates the same names, so the two cannot drift apart in what they do. Someone
acting for the person sees the person's pages as the person chose them.

Every person page (and every page of someone acting for a person) has a switch at the top,
a small form that posts to ``<person pages>/easy-read`` and comes back to the same page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import g, request, url_for

from models.people import PersonProfile

EASY_READ_FOLDER = "person/easy_read/"

#: The blueprints whose pages are the person's own (under /person), and the mounted copy an
#: advocate uses while acting for a person.
PERSON_BLUEPRINTS = frozenset({"person", "person_consents", "my_data"})
ACTING_BLUEPRINT = "advocate_acting"


def templates(name: str, person: PersonProfile | None) -> list[str] | str:
    """``name``, or (for someone who chose Easy Read) its Easy Read template first, when it has
    one: Jinja uses the first of the list that exists."""
    if person is None or not person.easy_read or not name.startswith("person/"):
        return name
    return [EASY_READ_FOLDER + name.removeprefix("person/"), name]


def switch() -> dict[str, Any] | None:
    """For the page layout: the Easy Read switch of this page (where it posts, whether Easy
    Read is on, the way back), or None on a page that is not a person's."""
    from web.auth import current_account
    from web.services import acting

    blueprint = request.blueprint or ""
    person: PersonProfile | None = None
    if blueprint in PERSON_BLUEPRINTS:
        user = current_account()
        person = user.person_profile if user is not None else None
        endpoint = "person.easy_read"
    elif blueprint == ACTING_BLUEPRINT:
        consent = g.get("acting_consent")
        actor = current_account()
        if consent is None or actor is None:
            return None
        from web.db import get_session

        # Only someone the person lets change things may switch it for them.
        if not acting.may(get_session(), actor, consent.person, "draft"):
            return None
        person = consent.person
        endpoint = f"{ACTING_BLUEPRINT}.easy_read"
    if person is None:
        return None
    return {"on": person.easy_read, "url": url_for(endpoint), "next": back_path()}


def back_path() -> str:
    """This page's path and query, to come back to after switching."""
    if request.method != "GET":
        return request.path
    query = urlencode(list(request.args.items(multi=True)))
    return request.path + (f"?{query}" if query else "")


def safe_back(target: str | None) -> str | None:
    """``target`` when it is a path on this site (never elsewhere: an open redirect), else
    None."""
    text = target or ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return None
    return text
