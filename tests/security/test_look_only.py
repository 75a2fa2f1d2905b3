"""An advocate is shown only the forms they may use (issue 11, defect 2).

For each set of permissions a person can give an advocate (look only; look and change things;
look and say yes or no), the walk opens every page of the app's ``url_map`` under
``/advocate/acting`` and sends every form it finds, as a browser would, with the form's own
fields. No form may end on "you cannot do this" (403): a form the advocate may not use must not
be on the page at all, and the page must say what they could ask the person instead.
"""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from models.people import Consent
from tests.security.test_access_matrix import MATRIX
from tests.security.world import World
from tests.web.conftest import csrf_token, form_token

ACTING = "/advocate/acting"
LOOK_ONLY = "You can look, but only"


class _Forms(HTMLParser):
    """Each post form of a page: its action and the fields a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._radios: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields, self._radios = [], set()
            self.forms.append((a.get("action", ""), self._fields))
        elif self._fields is not None and tag in ("input", "button", "textarea") and "name" in a:
            kind = a.get("type", "text")
            if kind == "radio":
                # A browser sends the one ticked; the walk ticks the first of each group.
                if a["name"] not in self._radios:
                    self._radios.add(a["name"])
                    self._fields.append((a["name"], a.get("value", "")))
            elif kind != "checkbox" or "checked" in a:
                self._fields.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None


def _acting_pages(app: Flask) -> list[str]:
    rules = {
        r.rule for r in app.url_map.iter_rules() if r.rule.startswith(ACTING) and "GET" in r.methods
    }
    paths = {row.rule: row.path for row in MATRIX if row.method == "GET" and row.rule in rules}
    assert set(paths) == rules, f"no access matrix row for {rules - set(paths)}"
    return sorted(paths.values())


@pytest.mark.parametrize(
    "scopes", [("view",), ("view", "draft"), ("view", "submit")], ids=["look", "change", "answer"]
)
def test_an_advocate_is_shown_no_form_they_may_not_use(
    scopes: tuple[str, ...],
    make_app: Callable[..., Flask],
    world: World,
    login: Callable[..., Any],
    db_session: Session,
    db_connection: Connection,
) -> None:
    # Posts answer directly here, so a refusal shows as 403 (not as a redirect to its page).
    app = make_app(FORM_TOKENS_REQUIRED=True, PAGE_POSTS_REDIRECT=False)
    consent = db_session.get(Consent, world.ids["consent_a"])
    assert consent is not None
    consent.can_draft, consent.can_submit = "draft" in scopes, "submit" in scopes
    db_session.flush()
    client = app.test_client()
    home = client.get(login(client, world.users["advocate"]).headers["Location"])
    started = client.post(
        f"/advocate/act/{world.ids['person_a']}",
        data={"csrf_token": csrf_token(home), "form_token": form_token(home)},
    )
    assert started.status_code == 302
    cookies = {c.key: c.value for c in client._cookies.values()}

    failures: list[str] = []
    told = 0
    sent = 0
    for path in _acting_pages(app):
        page_path = path.format(**world.ids)
        page = client.get(page_path)
        if page.status_code != 200:
            failures.append(f"GET {page_path}: {page.status_code}")
            continue
        html = page.get_data(as_text=True)
        told += LOOK_ONLY in html
        parser = _Forms()
        parser.feed(html)
        for action, fields in parser.forms:
            # A browser of its own for each form, so "Sign out" does not sign the walk out.
            browser = app.test_client()
            for name, value in cookies.items():
                browser.set_cookie(name, value)
            savepoint = db_connection.begin_nested()
            try:
                answer = browser.post(action or page_path, data=MultiDict(fields))
            finally:
                savepoint.rollback()
            sent += 1
            if answer.status_code == 403:
                failures.append(f"{page_path} shows a form to {action or page_path} that says no")
    assert not failures, "\n".join(failures)
    assert sent > 0
    if scopes != ("view", "draft", "submit"):
        assert told > 0, "no page said what the advocate could ask the person to do"
