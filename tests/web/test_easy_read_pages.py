"""Issue 13, Easy Read: the setting (on the account page and the switch on every person page),
the Easy Read templates of the person's journey, the same for someone acting for the person,
and the reasons why not in Easy Read words."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models import Allocation, Role, User
from models.base import utcnow
from models.people import PersonProfile
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.web.conftest import csrf_token
from tests.web.test_readability import EASY_READ_GRADE, grade, main_text
from web.services import allocations

#: The person's journey: every page with an Easy Read template.
JOURNEY = [
    "/person/",
    "/person/about-me",
    "/person/matches",
    "/person/choices",
    "/person/place",
    "/person/ideas",
    "/person/who-can-help-me",
    "/person/my-data/",
]
EASY = 'class="app-easy-read"'


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def switch_form(html: str) -> dict[str, str]:
    """The Easy Read switch's form on a page: where it posts and what it sends."""
    match = re.search(r'<div class="app-easy-read-switch".*?</form>', html, re.S)
    assert match, "the page has no Easy Read switch"
    form = match.group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    action = re.search(r'action="([^"]+)"', form)
    assert action
    fields["action"] = action.group(1)
    return fields


@pytest.fixture
def person(make_user: Callable[..., User]) -> User:
    return make_user(Role.person, display_name="Sam Taylor")


def test_the_account_page_says_easy_read_is_off_and_the_setting_switches_it_on(
    client: FlaskClient, login: Callable[..., object], person: User, db_session: Session
) -> None:
    login(client, person)
    account = text(client.get("/account"))
    assert re.search(r"Easy Read</dt>\s*<dd[^>]*>Off</dd>", account)
    page = client.get("/person/easy-read")
    assert page.status_code == 200
    assert 'value="off" checked' in text(page)
    response = client.post(
        "/person/easy-read", data={"csrf_token": csrf_token(page), "easy_read": "on"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account")
    db_session.refresh(person.person_profile)
    assert person.person_profile.easy_read is True
    account = text(client.get("/account"))
    assert "Easy Read is on." in account
    assert re.search(r"Easy Read</dt>\s*<dd[^>]*>On</dd>", account)
    # Remembered: the next page, and the next sign-in, are in Easy Read.
    assert EASY in text(client.get("/person/"))


def test_a_setting_that_is_neither_on_nor_off_is_refused_beside_the_field(
    client: FlaskClient, login: Callable[..., object], person: User, db_session: Session
) -> None:
    login(client, person)
    page = client.get("/person/easy-read")
    response = client.post(
        "/person/easy-read", data={"csrf_token": csrf_token(page), "easy_read": "maybe"}
    )
    assert response.status_code == 400
    html = text(response)
    assert "There is a problem" in html
    assert 'href="#easy_read"' in html and "Choose if you want Easy Read" in html
    assert "<title>Error:" in html
    db_session.refresh(person.person_profile)
    assert person.person_profile.easy_read is False


def test_the_switch_on_each_journey_page_turns_easy_read_on_and_comes_back(
    client: FlaskClient, login: Callable[..., object], person: User, db_session: Session
) -> None:
    login(client, person)
    for url in JOURNEY:
        html = text(client.get(url))
        assert EASY not in html, url
        form = switch_form(html)
        assert form["easy_read"] == "on" and form["next"] == url, url
    html = text(client.get("/person/ideas"))
    form = switch_form(html)
    response = client.post(
        form.pop("action"), data={**form, "csrf_token": csrf_token(html)}, follow_redirects=False
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/person/ideas")
    for url in JOURNEY:
        html = text(client.get(url))
        assert EASY in html, url
        assert "css/easy-read.css" in html, url
        assert switch_form(html)["easy_read"] == "off", url
        # A picture beside each key sentence, each with its words for those who cannot see it.
        pictures = re.findall(
            r'<img class="app-er-line__picture" src="([^"]+)" alt="([^"]*)"', html
        )
        assert len(pictures) >= 2, url
        assert all(alt.strip() for _, alt in pictures), url
        assert all(src.endswith(".svg") for src, _ in pictures), url
    # Pages without an Easy Read template of their own stay usable as they are.
    assert client.get("/person/services").status_code == 200
    html = text(client.get("/person/"))
    form = switch_form(html)
    client.post(form.pop("action"), data={**form, "csrf_token": csrf_token(html)})
    db_session.refresh(person.person_profile)
    assert person.person_profile.easy_read is False


def test_the_way_back_never_leaves_the_site(
    client: FlaskClient, login: Callable[..., object], person: User
) -> None:
    login(client, person)
    page = client.get("/person/easy-read")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/person/easy-read",
            data={"csrf_token": csrf_token(page), "easy_read": "on", "next": target},
        )
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/account"), target


def test_easy_read_pages_keep_the_same_forms(
    client: FlaskClient, login: Callable[..., object], person: User, db_session: Session
) -> None:
    person.person_profile.easy_read = True
    db_session.flush()
    login(client, person)
    page = client.get("/person/about-me")
    html = text(page)
    assert EASY in html
    for name in ("aspirations_text", "postcode", "max_travel_miles", "free-mon"):
        assert f'name="{name}"' in html, name
    response = client.post(
        "/person/about-me",
        data={"csrf_token": csrf_token(page), "max_travel_miles": "lots", "postcode": ""},
    )
    assert response.status_code == 400
    html = text(response)
    assert EASY in html and "How far you can travel must be a whole number" in html
    response = client.post(
        "/person/about-me",
        data={
            "csrf_token": csrf_token(page),
            "aspirations_text": "I want to work with animals",
            "max_travel_miles": "4",
        },
    )
    assert response.status_code == 302
    db_session.refresh(person.person_profile)
    assert person.person_profile.aspirations_text == "I want to work with animals"


def _acting(
    client: FlaskClient, login: Callable[..., object], person: PersonProfile, **scopes: bool
) -> FlaskClient:
    consent = factories.ConsentFactory(person=person, **scopes)
    login(client, consent.advocate)
    page = client.get("/advocate/")
    client.post(f"/advocate/act/{person.id}", data={"csrf_token": csrf_token(page)})
    return client


def test_someone_acting_for_the_person_sees_easy_read_and_may_switch_it_with_draft(
    app: Flask,
    client: FlaskClient,
    login: Callable[..., object],
    person: User,
    db_session: Session,
) -> None:
    profile = person.person_profile
    profile.easy_read = True
    db_session.flush()
    helper = _acting(client, login, profile, can_draft=True)
    html = text(helper.get("/advocate/acting/"))
    assert EASY in html and "You are acting for Sam Taylor" in html
    assert "Sam Taylor’s home page" in html
    form = switch_form(html)
    assert form["action"] == "/advocate/acting/easy-read" and form["easy_read"] == "off"
    response = helper.post(form.pop("action"), data={**form, "csrf_token": csrf_token(html)})
    assert response.headers["Location"].endswith("/advocate/acting/")
    db_session.refresh(profile)
    assert profile.easy_read is False
    assert EASY not in text(helper.get("/advocate/acting/"))
    # The person can see who switched it, on "Changes made for you".
    own = app.test_client()
    login(own, person)
    changes = text(own.get("/person/changes-made-for-you"))
    assert "Switched Easy Read off for you" in changes


def test_someone_who_may_only_look_sees_easy_read_but_cannot_switch_it(
    client: FlaskClient, login: Callable[..., object], person: User, db_session: Session
) -> None:
    profile = person.person_profile
    profile.easy_read = True
    db_session.flush()
    helper = _acting(client, login, profile, can_draft=False)
    html = text(helper.get("/advocate/acting/place"))
    assert EASY in html
    assert "app-easy-read-switch" not in html
    question = text(helper.get("/advocate/acting/easy-read"))
    assert "You can look, but only Sam Taylor can switch Easy Read on or off." in question
    assert 'name="easy_read"' not in question
    response = helper.post(
        "/advocate/acting/easy-read", data={"csrf_token": csrf_token(html), "easy_read": "off"}
    )
    assert response.status_code == 403
    db_session.refresh(profile)
    assert profile.easy_read is True


@pytest.fixture
def world(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def test_my_place_gives_the_reasons_why_not_in_easy_read_words(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    ben = world.people["Ben"]
    login(client, ben.user)
    plain = text(client.get("/person/place"))
    assert "All its places went to people ahead of you in the queue" in plain
    ben.easy_read = True
    world.session.flush()
    html = text(client.get("/person/place"))
    assert EASY in html
    assert "You did not get a place this time." in html
    assert re.search(r"Cafe.*?It is full\. Other people were first in the line\.", html, re.S)
    assert "ahead of you in the queue" not in html
    assert re.search(r"You are number 1 of 1\.", html)
    # Ben saw the plain page first: his place in the line is remembered across both.
    assert "No change since you last looked." in html


def test_saying_no_in_easy_read_asks_once_more_then_the_place_goes(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    offered = [
        (person, allocation)
        for person in world.people.values()
        for allocation in allocations.my_places(world.session, person.user, person).allocations
        if allocation.status == "offered"
    ]
    person, place = offered[0]
    person.easy_read = True
    world.session.flush()
    login(client, person.user)
    url = f"/person/place/{place.id}"
    page = client.get(url)
    html = text(page)
    assert EASY in html and "If you say no, someone else gets it." in html
    missing = client.post(url, data={"csrf_token": csrf_token(page)})
    assert missing.status_code == 400 and EASY in text(missing)
    assert "Choose yes or no" in text(missing)
    ask = client.post(url, data={"csrf_token": csrf_token(page), "answer": "decline"})
    assert ask.status_code == 200
    assert EASY in text(ask) and "Are you sure?" in text(ask)
    done = client.post(
        url, data={"csrf_token": csrf_token(page), "answer": "decline", "confirm": "yes"}
    )
    assert done.status_code == 302
    world.session.refresh(place)
    assert place.status == "declined"


def _ada_in_easy_read(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> tuple[PersonProfile, Allocation]:
    ada = world.people["Ada"]
    ada.easy_read = True
    world.session.flush()
    login(client, ada.user)
    place = next(
        a
        for a in allocations.my_places(world.session, ada.user, ada).allocations
        if a.status == "offered"
    )
    page = client.get(f"/person/place/{place.id}")
    client.post(
        f"/person/place/{place.id}", data={"csrf_token": csrf_token(page), "answer": "accept"}
    )
    world.session.refresh(place)
    assert place.status == "accepted"
    return ada, place


def test_giving_up_a_place_in_easy_read(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    _, place = _ada_in_easy_read(client, login, world)
    html = text(client.get("/person/place"))
    assert EASY in html and "Give up this place" in html
    page = client.get(f"/person/place/{place.id}/give-up")
    html = text(page)
    assert EASY in html and "You want to give up your place at Cafe." in html
    assert grade(main_text(html)) <= EASY_READ_GRADE
    response = client.post(
        f"/person/place/{place.id}/give-up", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    world.session.refresh(place)
    assert place.status == "given_up"
    assert "You gave it up." in text(client.get("/person/place"))


def test_saying_how_it_went_in_easy_read(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    _, place = _ada_in_easy_read(client, login, world)
    place.start_date = utcnow().date()
    world.session.flush()
    page = client.get(f"/person/place/{place.id}/rate")
    html = text(page)
    assert EASY in html and 'name="rating"' in html
    assert grade(main_text(html)) <= EASY_READ_GRADE
    missing = client.post(f"/person/place/{place.id}/rate", data={"csrf_token": csrf_token(page)})
    assert missing.status_code == 400 and EASY in text(missing)
    response = client.post(
        f"/person/place/{place.id}/rate",
        data={"csrf_token": csrf_token(page), "rating": "5", "comment": "I liked it."},
    )
    assert response.status_code == 302
