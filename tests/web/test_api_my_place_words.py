"""``GET /api/v1/allocations/mine`` gives each explanation in plain words beside the stored
codes, so an app need not know the codes: the engine's reasons, a council move, a place
offered again."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.services.commissioning_world import make_round, solved_run
from tests.services.test_allocations import allocation_of
from web.services import allocations, place_moves


def test_my_places_come_with_their_words(
    client: FlaskClient,
    db_session: Session,
    login: Callable,
    session_factory: Callable[[], Session],
) -> None:
    world = make_round(db_session)
    allocations.publish_run(
        db_session, world.commissioner, world.round, solved_run(world, session_factory)
    )
    world.offers["garden"].capacity = 3
    world.places["garden"].places = 3
    db_session.flush()
    old = allocation_of(world, "Ada")
    new = place_moves.move_place(
        db_session,
        world.commissioner,
        world.round,
        old.id,
        to_offer_id=world.offers["garden"].id,
        reason="The cafe shuts for repairs.",
    )
    db_session.flush()
    login(client, world.people["Ada"].user)

    answer = client.get("/api/v1/allocations/mine")

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    words = {w["allocation_id"]: w for w in body["words"]}
    assert words[new.id]["summary"] == "The council moved your place to this service."
    assert words[new.id]["reasons"] == ["The cafe shuts for repairs."]
    assert words[old.id]["summary"] == "The council moved this place to Garden."
    stored = {a["id"]: a["explanation"] for a in body["allocations"]}
    assert stored[new.id]["action"] == "moved_here"  # the codes are there too
    for entry in body["words"]:
        assert set(entry) == {"allocation_id", "summary", "reasons", "why_not"}
        for item in entry["why_not"]:
            assert set(item) == {"rank", "title", "message", "code"}
            assert not item["title"].startswith("o-")  # services by name, never ids
