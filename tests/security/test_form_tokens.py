"""Every page form: a second post of the same one-time token does nothing a second time.

The walk takes every page route that accepts a post from the app's ``url_map``, and for each
sends a form twice with one token, as the actor the access matrix lets in. The whole database
(but the signed-in sessions' "last seen" times) must be the same after the second post as after
the first, and a first post that did its work must send the second to the same page, saying so.
``VALID`` gives forms that succeed, so those routes prove the work is done once, not never.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select

from models import Base
from tests.factories import DEFAULT_PASSWORD
from tests.security.test_access_matrix import ACTORS, MATRIX, OK, Credentials, _credentials
from tests.security.world import World
from tests.web.conftest import csrf_token, form_token
from web.submissions import ALREADY_DONE

# Changed by every request (when a session was last used), not by a form's work.
_NOT_WORK = {"user_sessions", "login_throttles"}
_NOT_PAGES = ("/api/", "/openreferral/", "/static", "/assets")
_POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S | re.I)
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')

#: Forms that succeed: rule -> (actor, form). Each must change the database on the first post.
VALID: dict[str, tuple[str, dict[str, Any]]] = {
    "/sign-in": ("anonymous", {"email": "{email_b}", "password": DEFAULT_PASSWORD}),
    "/person/ideas/new": (
        "person_b",
        {"title": "Allotment club", "description": "Growing food together on Saturdays."},
    ),
    "/person/ideas/<int:proposal_id>/support": ("person_b", {}),
    "/person/about-me": ("person_b", {"aspirations_text": "To learn to swim"}),
    "/person/place/<int:allocation_id>": ("person_a", {"answer": "accept"}),
    "/person/place/<int:allocation_id>/rate": ("person_a", {"rating": "4", "comment": "Kind"}),
    "/advocate/acting/ideas/new": (
        "advocate",
        {"title": "Walking group", "description": "A walk by the river each week."},
    ),
    "/advocate/ask": ("advocate", {"who": "{email_b}", "scopes": ["view"]}),
    "/provider/offers/<int:offer_id>/capacity": ("provider_x", {"capacity": "20"}),
}


def _page_post_rules(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith(("/api/", "/openreferral/"))
    )


def _sign_in_all(app: Flask, world: World, login: Callable[..., Any]) -> dict[str, Credentials]:
    """Each actor's cookies and CSRF token; the advocate acts for person A."""
    anonymous = app.test_client()
    page = anonymous.get("/sign-in")
    creds = {"anonymous": Credentials(_credentials(anonymous), csrf_token(page))}
    for actor, user in world.users.items():
        client = app.test_client()
        response = login(client, user)
        assert response.status_code == 302, (actor, response.status_code)
        home = client.get(response.headers["Location"])
        if actor == "advocate":
            started = client.post(
                f"/advocate/act/{world.ids['person_a']}",
                data={"csrf_token": csrf_token(home), "form_token": form_token(home)},
            )
            assert started.status_code == 302
        creds[actor] = Credentials(_credentials(client), csrf_token(home))
    return creds


def fingerprint(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds work, in a stable order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in _NOT_WORK:
            continue
        found = connection.execute(select(table)).all()
        rows[table.name] = sorted((tuple(map(repr, row)) for row in found), key=repr)
    return rows


def _browser(app: Flask, creds: Credentials) -> FlaskClient:
    """One browser for one form: cookies the first post sets go with the second."""
    client = app.test_client()
    for name, value in creds.cookies.items():
        client.set_cookie(name, value)
    return client


@pytest.fixture
def strict_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(FORM_TOKENS_REQUIRED=True, PAGE_POSTS_REDIRECT=True)


@pytest.mark.slow
def test_a_second_post_of_every_form_does_nothing_twice(
    strict_app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    creds = _sign_in_all(strict_app, world, login)
    rows = {row.rule: row for row in MATRIX if row.method == "POST"}
    ids = {**world.ids, "email_b": world.users["person_b"].email}
    failures: list[str] = []
    worked: set[str] = set()
    for rule in _page_post_rules(strict_app):
        row = rows.get(rule)
        assert row is not None, f"{rule} is not in the access matrix"
        actor, form = VALID.get(rule) or (next(a for a in ACTORS if row.expect[a] == OK), row.form)
        form = {k: v.format(**ids) if isinstance(v, str) else v for k, v in form.items()}
        path = row.path.format(**world.ids)
        token = "t" * 10 + re.sub(r"\W", "_", rule)[-22:].rjust(22, "_")
        data = {"csrf_token": creds[actor].csrf, **form, "form_token": token}
        browser = _browser(strict_app, creds[actor])
        savepoint = db_connection.begin_nested()
        try:
            before = fingerprint(db_connection)
            first = browser.post(path, data=data)
            after_first = fingerprint(db_connection)
            second = browser.post(path, data=data)
            after_second = fingerprint(db_connection)
            told = ""
            if second.status_code == 303:
                told = browser.get(second.headers["Location"], follow_redirects=True).get_data(
                    as_text=True
                )
        finally:
            savepoint.rollback()
        cell = f"POST {path} as {actor}"
        if first.status_code not in (302, 303):
            failures.append(f"{cell}: answered {first.status_code}, not a redirect")
        if after_second != after_first:
            changed = [t for t in after_first if after_first[t] != after_second[t]]
            failures.append(f"{cell}: the second post changed {changed}")
        if after_first != before:
            worked.add(rule)
            if second.status_code != 303 or ALREADY_DONE not in told:
                failures.append(f"{cell}: the second post was not told it was done already")
            elif second.headers["Location"] != first.headers["Location"]:
                failures.append(f"{cell}: the second post went elsewhere than the first")
    missing = [rule for rule in VALID if rule not in worked]
    assert not failures, "\n".join(failures)
    assert not missing, f"these forms did nothing the first time: {missing}"


def test_every_post_form_on_every_page_carries_a_one_time_token(
    strict_app: Flask, world: World, login: Callable[..., Any], db_connection: Connection
) -> None:
    creds = _sign_in_all(strict_app, world, login)
    failures: list[str] = []
    forms = 0
    for row in MATRIX:
        if row.method != "GET" or row.rule.startswith(_NOT_PAGES):
            continue
        path = row.path.format(**world.ids)
        for actor in ACTORS:
            if row.expect[actor] != OK:
                continue
            client = _browser(strict_app, creds[actor])
            savepoint = db_connection.begin_nested()
            try:
                page = client.get(path)
                html = page.get_data(as_text=True) if page.mimetype == "text/html" else ""
                page.close()
            finally:
                savepoint.rollback()
            tokens = []
            for body in _POST_FORM.findall(html):
                forms += 1
                found = _TOKEN.findall(body)
                if len(found) != 1:
                    failures.append(f"GET {path} as {actor}: a form has {len(found)} tokens")
                tokens += found
            if len(set(tokens)) != len(tokens):
                failures.append(f"GET {path} as {actor}: two forms share a token")
    assert forms > 50
    assert not failures, "\n".join(failures)
