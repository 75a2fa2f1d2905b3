"""The commissioner moves people off an offer through the pages: form, "Are you sure?", done."""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Allocation, AllocationStatus, AuditEvent, Budget
from tests.services.commissioning_world import make_round, solved_run
from tests.services.test_allocations import allocation_of, check_books, held, places
from tests.web.test_commissioner_pages import post, signed_in
from web.services import allocations


def test_move_one_person_off_an_offer_with_a_reason_and_a_confirmation(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    signed_in(client, world, login, db_session)
    base = f"/commissioner/rounds/{world.round.id}/held"
    listing = html_lib.unescape(client.get(base).get_data(as_text=True))
    assert "Places people hold" in listing and "Ada" in listing
    ada = allocation_of(world, "Ada")
    url = f"{base}/{ada.id}"
    form = html_lib.unescape(client.get(url).get_data(as_text=True))
    assert "Move to Garden, £80 (1 free place)" in form
    assert "Move to Art" not in form  # full

    garden = str(world.offers["garden"].id)
    missing = post(client, url, {"choice": garden, "reason": " "})
    assert missing.status_code == 400
    page = html_lib.unescape(missing.get_data(as_text=True))
    assert 'href="#reason"' in page and "Say why you move or release this place" in page
    unchosen = post(client, url, {"reason": "Cafe shuts."})
    assert unchosen.status_code == 400
    assert "Choose a service to move this place to" in unchosen.get_data(as_text=True)

    asked = post(client, url, {"choice": garden, "reason": "Cafe shuts for repairs."})
    assert asked.status_code == 200
    question = html_lib.unescape(asked.get_data(as_text=True))
    assert "Are you sure you want to move Ada from Cafe to Garden?" in question
    assert held(world)["Ada"] == "cafe"  # asking changed nothing

    answer = {"choice": garden, "reason": "Cafe shuts for repairs.", "confirm": "yes"}
    done = post(client, url, answer, page_url=url)
    assert done.status_code == 302 and done.headers["Location"].endswith(base)
    assert held(world)["Ada"] == "garden"
    assert places(world)["cafe"] == (0, 1)
    again = post(client, url, answer, page_url=base)
    assert again.status_code == 302  # sent back: the place is no longer held
    db_session.expire_all()
    moves = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "allocation.move"))
    assert len(moves.all()) == 1
    check_books(world)


def test_an_accepted_place_needs_consent_and_a_release_gives_the_money_back(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    person = world.people["Ada"]
    place = allocation_of(world, "Ada")
    allocations.accept_place(db_session, person.user, person, place.id)
    signed_in(client, world, login, db_session)
    url = f"/commissioner/rounds/{world.round.id}/held/{place.id}"
    garden = str(world.offers["garden"].id)
    no_consent = post(client, url, {"choice": garden, "reason": "Cafe shuts.", "confirm": "yes"})
    assert no_consent.status_code == 400
    assert "agree" in no_consent.get_data(as_text=True)
    assert db_session.get(Allocation, place.id).status == AllocationStatus.accepted

    release = {"choice": "release", "reason": "Ada moved away."}
    asked = html_lib.unescape(post(client, url, release).get_data(as_text=True))
    assert "take away Ada’s place on Cafe?" in asked
    assert "The £150 paid for it goes back to their budget." in asked
    done = post(client, url, {**release, "confirm": "yes"})
    assert done.status_code == 302
    db_session.expire_all()
    budget = db_session.scalars(select(Budget).where(Budget.person_id == person.id)).one()
    assert budget.committed_pence == 0
    assert "Ada" not in held(world)
    check_books(world)


def test_the_person_sees_the_councils_move_and_its_reason(
    client: FlaskClient, db_session: Session, login: Callable, session_factory: Callable
) -> None:
    from web.services import place_moves

    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    old = allocation_of(world, "Ada")
    place_moves.move_place(
        db_session,
        world.commissioner,
        world.round,
        old.id,
        to_offer_id=world.offers["garden"].id,
        reason="The cafe shuts for repairs.",
    )
    person = world.people["Ada"]
    login(client, person.user)
    page = html_lib.unescape(client.get("/person/place").get_data(as_text=True))
    assert "Moved by the council" in page
    assert "The council moved this place to Garden." in page
    assert "The council moved your place to this service." in page
    assert "The cafe shuts for repairs." in page
