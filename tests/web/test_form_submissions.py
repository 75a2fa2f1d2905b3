"""One-time form tokens and post/redirect/get, as a person meets them (``web.submissions``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Proposal, Role
from tests.factories import DEFAULT_PASSWORD
from tests.web.conftest import csrf_token, form_token
from web.submissions import ALREADY_DONE, OUT_OF_DATE


@pytest.fixture
def browser(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(FORM_TOKENS_REQUIRED=True, PAGE_POSTS_REDIRECT=True).test_client()


def _ideas(db_session: Session) -> int:
    return db_session.scalar(select(func.count()).select_from(Proposal)) or 0


def test_a_new_idea_sent_twice_is_made_once(
    browser: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any],
    db_session: Session,
) -> None:  # fmt: skip
    """Defect 1: Back and send again (or a double click) made two identical ideas."""
    login(browser, make_user(Role.person))
    page = browser.get("/person/ideas/new")
    form = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "title": "Allotment club",
        "description": "Growing food together on Saturdays.",
    }
    first = browser.post("/person/ideas/new", data=form)
    assert first.status_code == 302
    second = browser.post("/person/ideas/new", data=form)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert _ideas(db_session) == 1
    shown = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert ALREADY_DONE in shown
    assert shown.count("Allotment club") == 1

    # A new page gives a new token: the same words sent from it are a second idea, on purpose.
    page = browser.get("/person/ideas/new")
    again = browser.post(
        "/person/ideas/new",
        data={**form, "csrf_token": csrf_token(page), "form_token": form_token(page)},
    )
    assert again.status_code == 302
    assert _ideas(db_session) == 2


def test_an_error_answer_is_a_redirect_that_keeps_what_was_typed(
    browser: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any],
    db_session: Session,
) -> None:  # fmt: skip
    """Defect 7: errors were POST answers, so Back then met "Confirm form resubmission"."""
    login(browser, make_user(Role.person))
    page = browser.get("/person/ideas/new")
    form = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "title": "",
        "description": "Words I do not want to type again",
    }
    answer = browser.post("/person/ideas/new", data=form)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/person/ideas/new"
    shown = browser.get("/person/ideas/new")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 400
    assert "There is a problem" in html
    assert "Words I do not want to type again" in html
    assert shown.headers["Cache-Control"] == "no-store"
    # Shown once: coming back later is the empty form.
    fresh = browser.get("/person/ideas/new").get_data(as_text=True)
    assert "There is a problem" not in fresh
    assert "Words I do not want to type again" not in fresh
    # Nothing was done, so the token of the page with the error still works.
    fixed = browser.post("/person/ideas/new", data={**form, "title": "Chess club"})
    assert fixed.status_code == 302
    assert _ideas(db_session) == 1


def test_an_error_of_a_post_only_address_is_shown_on_the_form_s_page(
    browser: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any]
) -> None:
    login(browser, make_user(Role.person))
    page = browser.get("/person/choices")
    answer = browser.post(
        "/person/choices/add",
        data={"csrf_token": csrf_token(page), "form_token": form_token(page), "offer_id": "x"},
        headers={"Referer": "http://localhost/person/choices"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/person/choices"
    assert browser.get("/person/choices").status_code < 500


def test_a_form_without_its_token_is_refused_kindly(
    browser: FlaskClient, make_user: Callable[..., Any], login: Callable[..., Any],
    db_session: Session,
) -> None:  # fmt: skip
    login(browser, make_user(Role.person))
    page = browser.get("/person/ideas/new")
    answer = browser.post(
        "/person/ideas/new",
        data={"csrf_token": csrf_token(page), "title": "Chess club", "description": "Games."},
    )
    assert answer.status_code == 303
    shown = browser.get(answer.headers["Location"])
    assert shown.status_code == 400
    assert _ideas(db_session) == 0
    assert "Go back, reload the page" in OUT_OF_DATE


def test_a_second_sign_in_with_one_form_is_sent_on_not_refused(
    browser: FlaskClient, make_user: Callable[..., Any]
) -> None:
    user = make_user(Role.person)
    page = browser.get("/sign-in")
    form = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "email": user.email,
        "password": DEFAULT_PASSWORD,
    }
    first = browser.post("/sign-in", data=form)
    assert first.status_code == 302
    # Signing in renewed the CSRF secret; the repeat is still sent on, not refused.
    second = browser.post("/sign-in", data=form)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert ALREADY_DONE in browser.get(second.headers["Location"]).get_data(as_text=True)
