"""The person's pages after publishing: deadlines, waiting lists, giving a place up, feedback
only once a place has started, and the page states of issue 11's defect 6."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, RoundStatus
from models.base import utcnow
from tests import factories
from tests.services.commissioning_world import CommissioningWorld, make_round, solved_run
from tests.web.conftest import csrf_token
from web.services import allocations


@pytest.fixture
def world(db_session: Session, session_factory: Callable[[], Session]) -> CommissioningWorld:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    db_session.flush()
    return world


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    page = client.get(path)
    fields = {"csrf_token": csrf_token(page)}
    # The one-time form token, on the pages that carry one.
    token = re.search(r'name="form_token" value="([^"]+)"', text(page))
    if token:
        fields["form_token"] = token.group(1)
    return client.post(path, data={**fields, **(data or {})})


def as_person(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld, name: str
) -> FlaskClient:
    login(client, world.people[name].user)
    return client


def place_of(world: CommissioningWorld, name: str) -> Allocation:
    world.session.expire_all()
    return world.session.scalars(
        select(Allocation).where(
            Allocation.person_id == world.people[name].id,
            Allocation.status.in_(allocations.HELD),
        )
    ).one()


def test_no_place_says_so_once_and_shows_the_waiting_lists(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    ben = as_person(client, login, world, "Ben")
    html = text(ben.get("/person/place"))
    assert html.count("You did not get a place this time.") == 1
    assert "Why you did not get a place</h2>" in html
    assert "Waiting lists" in html
    assert re.search(r"Cafe.*?\(choice 1\).*?Number 1 of 1.*?This is your first look", html, re.S)
    assert "Say yes or no" not in html
    again = text(ben.get("/person/place"))
    assert re.search(r"Cafe.*?Number 1 of 1.*?No change", again, re.S)
    home = text(ben.get("/person/"))
    assert "See the place you got" not in home and "You did not get a place in Spring" in home
    # Choosing has closed, but Ben's ranking is still there to read.
    choices = text(ben.get("/person/choices"))
    assert "There is no round open" not in choices
    assert re.search(r"<li>Cafe</li>\s*<li>Garden</li>", choices)


def test_an_offer_shows_its_deadline_and_an_accepted_place_asks_nothing_more(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    ada = as_person(client, login, world, "Ada")
    place = place_of(world, "Ada")
    html = text(ada.get("/person/place"))
    assert "Answer by" in html and "7 days left" in html
    response = post(ada, f"/person/place/{place.id}", {"answer": "accept"})
    assert response.status_code == 302
    html = text(ada.get("/person/place"))
    assert "You said yes" in html
    assert "Say yes or no" not in html and "Answer by" not in html
    assert "Say how it went" not in html  # not before it starts
    assert "Green Hands will tell you when it starts." in html
    assert "You said yes to a place, so you are not waiting for any other." in html
    # Asking again does not ask "Do you want a place?": it says it is answered.
    response = ada.get(f"/person/place/{place.id}")
    assert response.status_code == 302
    assert "Do you want a place" not in text(ada.get(response.headers["Location"]))
    # About me shows the same money as My place.
    about = text(ada.get("/person/about-me"))
    assert "My budget for Spring" in about and "£150 left" in about
    assert "You do not have a budget" not in about
    assert "You have £150 left." in html


def test_feedback_opens_on_the_start_date(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    ada = as_person(client, login, world, "Ada")
    place = place_of(world, "Ada")
    post(ada, f"/person/place/{place.id}", {"answer": "accept"})
    place = place_of(world, "Ada")
    place.start_date = utcnow().date() + timedelta(days=3)
    world.session.flush()
    html = text(ada.get("/person/place"))
    assert "It starts on" in html and "Say how it went" not in html
    assert ada.get(f"/person/place/{place.id}/rate").status_code == 302
    place.start_date = utcnow().date()
    world.session.flush()
    html = text(ada.get("/person/place"))
    assert "It started on" in html and "Say how it went" in html
    assert "Give up this place" not in html  # it has started
    assert ada.get(f"/person/place/{place.id}/rate").status_code == 200


def test_give_up_an_accepted_place_and_it_goes_to_the_next_person(
    client: FlaskClient, login: Callable[..., object], world: CommissioningWorld
) -> None:
    ada = as_person(client, login, world, "Ada")
    place = place_of(world, "Ada")
    post(ada, f"/person/place/{place.id}", {"answer": "accept"})
    html = text(ada.get("/person/place"))
    assert "Give up this place" in html
    page = text(ada.get(f"/person/place/{place.id}/give-up"))
    assert "Are you sure you want to give up your place at Cafe?" in page
    response = post(ada, f"/person/place/{place.id}/give-up")
    assert response.status_code == 302
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).status == AllocationStatus.given_up
    html = text(ada.get(response.headers["Location"]))
    assert "The place is given up" in html and "You gave it up" in html
    ben = place_of(world, "Ben")
    assert ben.offer_id == world.offers["cafe"].id and ben.status == AllocationStatus.offered
    # A second press changes nothing more.
    again = post(ada, f"/person/place/{place.id}/give-up")
    assert again.status_code == 302
    world.session.expire_all()
    assert world.session.get(Allocation, place.id).status == AllocationStatus.given_up


def test_an_earlier_rounds_place_stays_on_my_place(
    client: FlaskClient,
    login: Callable[..., object],
    world: CommissioningWorld,
    db_session: Session,
) -> None:
    ada_person = world.people["Ada"]
    summer = factories.RoundFactory(
        council=world.council,
        name="Summer",
        status=RoundStatus.published,
        published_at=utcnow() + timedelta(minutes=1),
    )
    factories.BudgetFactory(round=summer, person=ada_person, amount_pence=5_000)
    db_session.flush()
    ada = as_person(client, login, world, "Ada")
    html = text(ada.get("/person/place"))
    assert "These are the places from <strong>Summer</strong>" in html
    assert "Places from earlier rounds" in html and "From Spring:" in html
    assert "Cafe" in html and "Waiting for your answer" in html
