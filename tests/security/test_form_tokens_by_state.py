"""One-time form tokens on the forms a page shows only in some states.

``test_form_tokens.py`` walks every page of the access matrix's world, but some forms appear
only when a place is accepted, a consent is live or a file is chosen: a provider's "Confirm the
place" form was drawn without a token and nothing noticed. So, first, every post form in every
template must carry the token (by ``form_token_field()`` or a macro that draws it). Then each of
the newest forms is sent twice, with one token, in the state that shows it: the first post does
its work, the second changes nothing in the database and is told it was done already.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, Role, User
from models.base import utcnow
from tests import factories
from tests.security.test_form_tokens import fingerprint
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.web.conftest import csrf_token
from web.api.openreferral.routes import PROFILE
from web.services import allocations
from web.submissions import ALREADY_DONE

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(.*?%}(.*?){%-?\s*endmacro", re.S)
_IMPORT = re.compile(r'{%-?\s*from\s+"([^"]+)"\s+import\s+([^%]+?)\s*-?%}')
_TOKEN_FIELD = "form_token_field()"
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _token_macros() -> dict[str, set[str]]:
    """Template -> names of the macros in it that draw the token field."""
    found: dict[str, set[str]] = {}
    for path in TEMPLATES.rglob("*.html"):
        names = {name for name, body in _MACRO.findall(path.read_text()) if _TOKEN_FIELD in body}
        if names:
            found[path.relative_to(TEMPLATES).as_posix()] = names
    return found


def test_every_post_form_in_every_template_carries_the_token() -> None:
    macros = _token_macros()
    forms = 0
    missing: list[str] = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text()
        drawing = set(macros.get(path.relative_to(TEMPLATES).as_posix(), ()))
        for template, names in _IMPORT.findall(source):
            imported = {n.strip().split(" as ")[-1].strip() for n in names.split(",")}
            drawing |= imported & macros.get(template, set())
        for attributes, body in _FORM.findall(source):
            if not re.search(r"method\s*=\s*\"?post", attributes, re.I):
                continue
            forms += 1
            if _TOKEN_FIELD in body or any(re.search(rf"\b{m}\(\)", body) for m in drawing):
                continue
            line = source[: source.index(body)].count("\n") + 1
            missing.append(f"{path.relative_to(TEMPLATES)}:{line}")
    assert forms > 40
    assert not missing, "post forms without a one-time token: " + ", ".join(missing)


# --- each newest form, sent twice -------------------------------------------------------------


@pytest.fixture
def browser(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(FORM_TOKENS_REQUIRED=True, PAGE_POSTS_REDIRECT=True).test_client()


@pytest.fixture
def world(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def _place(world: CommissioningWorld, name: str) -> Allocation:
    world.session.expire_all()
    return world.session.scalars(
        select(Allocation).where(
            Allocation.person_id == world.people[name].id,
            Allocation.status.in_(allocations.HELD),
        )
    ).one()


def _form_fields(html: str, marker: str) -> dict[str, str]:
    """The CSRF and one-time tokens of the page's post form that holds ``marker``."""
    for attributes, body in _FORM.findall(html):
        if "post" in attributes.lower() and marker in body:
            token = _TOKEN.search(body)
            assert token, f"the form with {marker!r} has no one-time token"
            return {"csrf_token": csrf_token(body), "form_token": token.group(1)}
    raise AssertionError(f"no post form with {marker!r} on the page")


def _send_twice(
    browser: FlaskClient,
    db_connection: Connection,
    page: str,
    marker: str,
    data: Callable[[], dict[str, Any]],
    to: str | None = None,
) -> str:
    """Post the form holding ``marker`` on ``page`` twice with one token; return what the
    second post is shown. Multipart data is made fresh for each post (a file is read once)."""
    fields = _form_fields(browser.get(page).get_data(as_text=True), marker)
    before = fingerprint(db_connection)
    first = browser.post(to or page, data={**fields, **data()})
    assert first.status_code in (302, 303), first.status_code
    after_first = fingerprint(db_connection)
    assert after_first != before, "the first post did nothing"
    second = browser.post(to or page, data={**fields, **data()})
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert fingerprint(db_connection) == after_first, "the second post changed something"
    told = browser.get(second.headers["Location"], follow_redirects=True)
    shown = told.get_data(as_text=True)
    assert ALREADY_DONE in shown
    return shown


def _staff(world: CommissioningWorld, offer: str) -> User:
    user = factories.ProviderUserFactory(council=world.council)
    factories.ProviderMemberFactory(provider=world.offers[offer].provider, user=user)
    world.session.flush()
    return user


def test_a_provider_confirms_a_placement_once(
    browser: FlaskClient, login: Callable[..., Any], world: CommissioningWorld,
    db_connection: Connection,
) -> None:  # fmt: skip
    ada = world.people["Ada"]
    allocations.accept_place(world.session, ada.user, ada, _place(world, "Ada").id)
    login(browser, _staff(world, "cafe"))
    start = (utcnow() + timedelta(days=14)).date()
    later = start + timedelta(days=7)
    dates = iter([start, later])

    def form() -> dict[str, Any]:
        # The second post sends another date: it must not be taken either.
        day = next(dates)
        return {"action": "confirm", "start_date-day": str(day.day),
                "start_date-month": str(day.month), "start_date-year": str(day.year)}  # fmt: skip

    path = f"/provider/placements/{_place(world, 'Ada').id}"
    _send_twice(browser, db_connection, path, 'value="confirm"', form)
    assert _place(world, "Ada").start_date == start


def test_a_provider_declines_a_placement_once(
    browser: FlaskClient, login: Callable[..., Any], world: CommissioningWorld,
    db_connection: Connection,
) -> None:  # fmt: skip
    ada = world.people["Ada"]
    place = _place(world, "Ada")
    allocations.accept_place(world.session, ada.user, ada, place.id)
    login(browser, _staff(world, "cafe"))
    _send_twice(
        browser, db_connection, f"/provider/placements/{place.id}", 'value="decline"',
        lambda: {"action": "decline", "reason": "Our kitchen has no ramp."},
    )  # fmt: skip
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).status == AllocationStatus.provider_declined


def test_a_person_gives_up_a_place_once(
    browser: FlaskClient, login: Callable[..., Any], world: CommissioningWorld,
    db_connection: Connection,
) -> None:  # fmt: skip
    ada = world.people["Ada"]
    place = _place(world, "Ada")
    allocations.accept_place(world.session, ada.user, ada, place.id)
    login(browser, ada.user)
    path = f"/person/place/{place.id}/give-up"
    _send_twice(browser, db_connection, path, "csrf_token", dict)
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).status == AllocationStatus.given_up


def test_a_person_says_no_to_a_place_once_after_are_you_sure(
    browser: FlaskClient, login: Callable[..., Any], world: CommissioningWorld,
    db_connection: Connection,
) -> None:  # fmt: skip
    place = _place(world, "Ada")
    login(browser, world.people["Ada"].user)
    path = f"/person/place/{place.id}"
    fields = _form_fields(browser.get(path).get_data(as_text=True), 'name="answer"')
    # "No" first asks "Are you sure?", a page of its own with its own form and token.
    asked = browser.post(path, data={**fields, "answer": "decline"})
    assert asked.status_code in (302, 303)
    sure = browser.get(asked.headers["Location"]).get_data(as_text=True)
    fields = _form_fields(sure, 'name="confirm"')
    before = fingerprint(db_connection)
    data = {**fields, "answer": "decline", "confirm": "yes"}
    first = browser.post(path, data=data)
    after_first = fingerprint(db_connection)
    second = browser.post(path, data=data)
    assert after_first != before and fingerprint(db_connection) == after_first
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).status == AllocationStatus.declined


def test_a_person_stops_an_advocate_once(
    browser: FlaskClient, login: Callable[..., Any], db_session: Session,
    db_connection: Connection,
) -> None:  # fmt: skip
    person = factories.PersonProfileFactory()
    advocate = factories.AdvocateFactory(council=person.user.council)
    consent = factories.ConsentFactory(person=person, advocate=advocate)
    db_session.flush()
    login(browser, person.user)
    path = f"/person/who-can-help-me/{consent.id}"
    _send_twice(browser, db_connection, path, 'value="revoke"', lambda: {"decision": "revoke"})
    db_session.refresh(consent)
    assert consent.revoked_at is not None


def test_a_provider_adds_a_time_it_runs_once(
    browser: FlaskClient, login: Callable[..., Any], make_user: Callable[..., User],
    db_session: Session, db_connection: Connection,
) -> None:  # fmt: skip
    user = make_user(Role.provider)
    offer = factories.OfferFactory(provider=user.provider_memberships[0].provider, schedule={})
    db_session.flush()
    login(browser, user)
    forms = iter(["tue", "wed"])

    def form() -> dict[str, Any]:
        return {"often": "weekly", "days": [next(forms)], "opens_at": "10am",
                "closes_at": "12pm", "start-day": "5", "start-month": "1",
                "start-year": "2027"}  # fmt: skip

    path = f"/provider/offers/{offer.id}/schedule"
    _send_twice(browser, db_connection, path, 'name="often"', form)
    db_session.refresh(offer)
    assert [rule["rrule"] for rule in offer.schedule_rules] == ["FREQ=WEEKLY;INTERVAL=1;BYDAY=TU"]


def test_a_commissioner_brings_in_a_directory_once(
    browser: FlaskClient, login: Callable[..., Any], make_user: Callable[..., User],
    db_connection: Connection,
) -> None:  # fmt: skip
    login(browser, make_user(Role.commissioner))
    example = (PROFILE / "examples" / "service_full.json").read_bytes()

    def form() -> dict[str, Any]:
        return {"file": (io.BytesIO(example), "feed.json")}

    path = "/commissioner/directory/import"
    page = browser.get(path).get_data(as_text=True)
    fields = _form_fields(page, 'type="file"')
    before = fingerprint(db_connection)
    first = browser.post(path, data={**fields, **form()}, content_type="multipart/form-data")
    assert first.status_code == 303
    after_first = fingerprint(db_connection)
    second = browser.post(path, data={**fields, **form()}, content_type="multipart/form-data")
    assert after_first != before and fingerprint(db_connection) == after_first
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    assert ALREADY_DONE in browser.get(second.headers["Location"]).get_data(as_text=True)
